"""Export approvals in the shared database: create, decide (M-of-N), consume atomically, expire.

The table lives in the gateway's database (``reports.database``: the embedded SQLite file
or PostgreSQL), so every gateway process and host sees the same approvals. ``consume``
checks and spends a use in a single ``UPDATE ... RETURNING``: on PostgreSQL a second
concurrent consumer waits for the first and re-checks the row (``uses_left > 0`` no longer
holds), on SQLite ``BEGIN IMMEDIATE`` serialises writers; two racing consumers can never
both win. Decisions lock the row (``SELECT ... FOR UPDATE`` on PostgreSQL) so concurrent
approvers cannot lose a vote. Refuses (``ApprovalError``) self-approval, approvers outside
the tenant, double votes, decisions on requests that are not pending, and any use that does
not match the approved requester, method, canonical path, query fingerprint and record
ceiling, or comes at or after ``expires_at``.
"""

from __future__ import annotations

import asyncio
import builtins
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from reports.database import Database, open_database, sqlite_url

__all__ = ["Approval", "ApprovalError", "ApprovalRequest", "ApprovalStore", "ApprovalUse"]

_T = TypeVar("_T")

_TABLE = sa.Table(
    "approvals", sa.MetaData(),
    sa.Column("id", sa.String(40), primary_key=True), sa.Column("requester", sa.Text),
    sa.Column("tenant", sa.Text), sa.Column("method", sa.String(16)),
    sa.Column("path", sa.Text), sa.Column("query_fp", sa.Text),
    sa.Column("max_records", sa.BigInteger), sa.Column("unmask", sa.Text),
    sa.Column("reason", sa.Text), sa.Column("ticket", sa.Text),
    sa.Column("state", sa.String(16)), sa.Column("approvals_needed", sa.Integer),
    sa.Column("approvers", sa.Text), sa.Column("created_at", sa.Float),
    sa.Column("expires_at", sa.Float), sa.Column("uses_left", sa.Integer),
    sa.Column("decided_comment", sa.Text),
)
_C = _TABLE.c


class ApprovalError(Exception):
    """A refused approval operation; ``code`` is stable and machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """What a requester asks to export; ``path`` canonical, ``query_fp`` from the caller."""

    method: str
    path: str
    query_fp: str
    reason: str
    max_records: int
    unmask: tuple[str, ...] = ()
    ticket: str | None = None
    ttl_seconds: int = 3600
    approvals_needed: int = 1
    uses: int = 1


@dataclass(frozen=True, slots=True)
class ApprovalUse:
    """One attempted use of an approval, as seen by the export guard."""

    requester: str
    method: str
    path: str
    query_fp: str
    records: int


@dataclass(frozen=True, slots=True)
class Approval:
    """One row of the ``approvals`` table."""

    id: str
    requester: str
    tenant: str | None
    method: str
    path: str
    query_fp: str
    max_records: int
    unmask: tuple[str, ...]
    reason: str
    ticket: str | None
    state: str
    approvals_needed: int
    approvers: tuple[str, ...]
    created_at: float
    expires_at: float
    uses_left: int
    decided_comment: str | None

    @classmethod
    def from_row(cls, row: RowMapping) -> Approval:
        data = {f.name: row[f.name] for f in fields(cls)}
        data["unmask"] = tuple(orjson.loads(data["unmask"]))
        data["approvers"] = tuple(orjson.loads(data["approvers"]))
        data["created_at"] = float(data["created_at"])
        data["expires_at"] = float(data["expires_at"])
        return cls(**data)


def _use_refusal(row: Approval, use: ApprovalUse, now: float) -> ApprovalError:
    """Why ``use`` of ``row`` was refused, most specific reason first."""
    if row.requester != use.requester:
        return ApprovalError("wrong_requester", "approval belongs to another user")
    if row.state == "used" or (row.state == "approved" and row.uses_left <= 0):
        return ApprovalError("used", "approval has no uses left")
    if row.state == "expired" or (row.state == "approved" and row.expires_at <= now):
        return ApprovalError("expired", "approval has expired")
    if row.state != "approved":
        return ApprovalError("not_approved", f"approval is {row.state}")
    if (row.method, row.path, row.query_fp) != (use.method, use.path, use.query_fp):
        return ApprovalError("wrong_request", "method, path or query differ from the approval")
    return ApprovalError("too_many_records", f"approval covers at most {row.max_records}")


def _decision_refusal(row: Approval, approver: str,
                      approver_tenants: tuple[str, ...]) -> ApprovalError | None:
    if row.state != "pending":
        return ApprovalError("not_pending", f"approval is {row.state}")
    if approver == row.requester:
        return ApprovalError("self_approval", "requesters cannot decide their own request")
    if "*" not in approver_tenants and row.tenant not in approver_tenants:
        return ApprovalError("wrong_tenant", "approver is not responsible for this tenant")
    if approver in row.approvers:
        return ApprovalError("already_approved", "this approver has already approved")
    return None


def _fetch(conn: Connection, approval_id: str, lock: bool = False) -> Approval | None:
    query = sa.select(_TABLE).where(_C.id == approval_id)
    if lock:
        query = query.with_for_update()  # PostgreSQL; SQLite already holds the write lock
    row = conn.execute(query).mappings().first()
    return None if row is None else Approval.from_row(row)


def _update(conn: Connection, approval_id: str, **values: Any) -> Approval:
    statement = sa.update(_TABLE).where(_C.id == approval_id).values(**values)
    return Approval.from_row(conn.execute(statement.returning(_TABLE)).mappings().one())


class ApprovalStore:
    """The approvals table; async methods run the blocking database calls in a thread.

    A refusal that changed the row (a stale request found while deciding is expired)
    commits that change before the ``ApprovalError`` is raised.
    """

    def __init__(self, db: Database, *, owned: bool = False) -> None:
        self._db = db
        self._owned = owned

    @classmethod
    def open(cls, target: str | Path) -> ApprovalStore:
        """A store on its own database: a URL, or a path to an SQLite file (tests, tools)."""
        url = target if isinstance(target, str) and "://" in target else sqlite_url(
            Path(target))
        return cls(open_database(url), owned=True)

    def close(self) -> None:
        """Dispose of the database if this store opened it (a shared one stays open)."""
        if self._owned:
            self._db.close()

    async def _write(self, fn: Callable[[Connection], _T | ApprovalError]) -> _T:
        def run() -> _T | ApprovalError:
            with self._db.begin() as conn:
                return fn(conn)
        result = await asyncio.to_thread(run)
        if isinstance(result, ApprovalError):
            raise result
        return result

    async def create(self, requester: str, tenant: str | None,
                     request: ApprovalRequest) -> Approval:
        def run(conn: Connection) -> Approval:
            now = time.time()
            statement = sa.insert(_TABLE).values(
                id=secrets.token_urlsafe(16), requester=requester, tenant=tenant,
                method=request.method, path=request.path, query_fp=request.query_fp,
                max_records=request.max_records, unmask=orjson.dumps(request.unmask).decode(),
                reason=request.reason, ticket=request.ticket, state="pending",
                approvals_needed=max(1, request.approvals_needed),
                approvers="[]", created_at=now, expires_at=now + request.ttl_seconds,
                uses_left=max(1, request.uses), decided_comment=None)
            return Approval.from_row(conn.execute(statement.returning(_TABLE)).mappings().one())
        return await self._write(run)

    async def get(self, approval_id: str) -> Approval | None:
        def run() -> Approval | None:
            with self._db.read() as conn:
                return _fetch(conn, approval_id)
        return await asyncio.to_thread(run)

    async def list(self, state: str | None = None,
                   tenant: str | None = None) -> builtins.list[Approval]:
        def run() -> builtins.list[Approval]:
            query = sa.select(_TABLE).order_by(_C.created_at, _C.id)
            if state is not None:
                query = query.where(_C.state == state)
            if tenant is not None:
                query = query.where(_C.tenant == tenant)
            with self._db.read() as conn:
                return [Approval.from_row(row) for row in conn.execute(query).mappings()]
        return await asyncio.to_thread(run)

    @staticmethod
    def _decidable(conn: Connection, approval_id: str, approver: str,
                   approver_tenants: tuple[str, ...]) -> Approval | ApprovalError:
        """The pending row ``approver`` may decide on; expires it if it is stale."""
        row = _fetch(conn, approval_id, lock=True)
        if row is None:
            return ApprovalError("unknown", "no such approval")
        if row.state == "pending" and row.expires_at <= time.time():
            _update(conn, approval_id, state="expired")
            return ApprovalError("expired", "approval request has expired")
        return _decision_refusal(row, approver, approver_tenants) or row

    async def approve(self, approval_id: str, approver: str,
                      approver_tenants: tuple[str, ...], comment: str | None) -> Approval:
        def run(conn: Connection) -> Approval | ApprovalError:
            row = self._decidable(conn, approval_id, approver, approver_tenants)
            if isinstance(row, ApprovalError):
                return row
            approvers = (*row.approvers, approver)
            state = "approved" if len(approvers) >= row.approvals_needed else "pending"
            return _update(conn, approval_id, approvers=orjson.dumps(approvers).decode(),
                           state=state, decided_comment=comment)
        return await self._write(run)

    async def deny(self, approval_id: str, approver: str,
                   approver_tenants: tuple[str, ...], comment: str | None) -> Approval:
        def run(conn: Connection) -> Approval | ApprovalError:
            row = self._decidable(conn, approval_id, approver, approver_tenants)
            if isinstance(row, ApprovalError):
                return row
            return _update(conn, approval_id, state="denied", decided_comment=comment)
        return await self._write(run)

    async def revoke(self, approval_id: str, actor: str) -> Approval:
        def run(conn: Connection) -> Approval | ApprovalError:
            row = _fetch(conn, approval_id, lock=True)
            if row is None:
                return ApprovalError("unknown", "no such approval")
            if row.state not in ("pending", "approved"):
                return ApprovalError("not_revocable", f"approval is {row.state}")
            return _update(conn, approval_id, state="revoked",
                           decided_comment=f"revoked by {actor}")
        return await self._write(run)

    async def consume(self, approval_id: str, use: ApprovalUse,
                      now: float | None = None) -> Approval:
        """Spend one use if, and only if, the approval covers ``use`` at ``now``."""
        def run(conn: Connection) -> Approval | ApprovalError:
            at = time.time() if now is None else now
            statement = sa.update(_TABLE).where(
                _C.id == approval_id, _C.state == "approved", _C.requester == use.requester,
                _C.method == use.method, _C.path == use.path, _C.query_fp == use.query_fp,
                _C.max_records >= use.records, _C.expires_at > at, _C.uses_left > 0,
            ).values(
                uses_left=_C.uses_left - 1,
                state=sa.case((_C.uses_left == 1, "used"), else_=_C.state),
            ).returning(_TABLE)
            spent = conn.execute(statement).mappings().first()
            if spent is not None:
                return Approval.from_row(spent)
            current = _fetch(conn, approval_id)
            if current is None:
                return ApprovalError("unknown", "no such approval")
            return _use_refusal(current, use, at)
        return await self._write(run)

    async def expire_stale(self, now: float | None = None) -> int:
        def run(conn: Connection) -> int:
            at = time.time() if now is None else now
            result = conn.execute(sa.update(_TABLE).where(
                _C.state.in_(("pending", "approved")), _C.expires_at <= at,
            ).values(state="expired"))
            return int(result.rowcount)
        return await self._write(run)
