"""Export approvals in one SQLite file: create, decide (M-of-N), consume atomically, expire.

Reads and writes only its own database (WAL mode, ``busy_timeout``), so several gateway
processes can share one file. ``consume`` checks and spends a use in a single
``UPDATE ... RETURNING`` inside ``BEGIN IMMEDIATE``: two racing consumers can never both win.
Refuses (``ApprovalError``) self-approval, approvers outside the tenant, double votes,
decisions on requests that are not pending, and any use that does not match the approved
requester, method, canonical path, query fingerprint and record ceiling, or comes at or
after ``expires_at``.
"""

from __future__ import annotations

import asyncio
import builtins
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson

__all__ = ["Approval", "ApprovalError", "ApprovalRequest", "ApprovalStore", "ApprovalUse"]

_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS approvals (
    id TEXT PRIMARY KEY, requester TEXT NOT NULL, tenant TEXT, method TEXT NOT NULL,
    path TEXT NOT NULL, query_fp TEXT NOT NULL, max_records INTEGER NOT NULL,
    unmask TEXT NOT NULL DEFAULT '[]', reason TEXT NOT NULL, ticket TEXT,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN
        ('pending', 'approved', 'denied', 'revoked', 'expired', 'used')),
    approvals_needed INTEGER NOT NULL DEFAULT 1, approvers TEXT NOT NULL DEFAULT '[]',
    created_at REAL NOT NULL, expires_at REAL NOT NULL,
    uses_left INTEGER NOT NULL DEFAULT 1, decided_comment TEXT
);
CREATE INDEX IF NOT EXISTS approvals_state ON approvals (state, expires_at);
CREATE INDEX IF NOT EXISTS approvals_tenant ON approvals (tenant);
"""

_CONSUME = """
UPDATE approvals
SET uses_left = uses_left - 1,
    state = CASE WHEN uses_left - 1 = 0 THEN 'used' ELSE state END
WHERE id = ? AND state = 'approved' AND requester = ? AND method = ? AND path = ?
  AND query_fp = ? AND max_records >= ? AND expires_at > ? AND uses_left > 0
RETURNING *
"""


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
    def from_row(cls, row: sqlite3.Row) -> Approval:
        data: dict[str, Any] = dict(row)
        data["unmask"] = tuple(orjson.loads(data["unmask"]))
        data["approvers"] = tuple(orjson.loads(data["approvers"]))
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


class ApprovalStore:
    """The approvals table; async methods run the blocking SQLite calls in a thread."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str | Path, busy_timeout_ms: int = 5000) -> ApprovalStore:
        if sqlite3.sqlite_version_info < (3, 35, 0):
            raise RuntimeError("SQLite >= 3.35 is required (UPDATE ... RETURNING)")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=busy_timeout_ms / 1000,
                               isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(_SCHEMA)
        return cls(conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    async def _run(self, fn: Callable[[], _T]) -> _T:
        def locked() -> _T:
            with self._lock:
                return fn()
        return await asyncio.to_thread(locked)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE``; a refusal still commits what it wrote (an expiry)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except ApprovalError:
            self._conn.execute("COMMIT")
            raise
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _fetch(self, approval_id: str) -> Approval | None:
        row = self._conn.execute("SELECT * FROM approvals WHERE id = ?",
                                 (approval_id,)).fetchone()
        return None if row is None else Approval.from_row(row)

    def _returning(self, sql: str, args: tuple[Any, ...]) -> Approval:
        rows = self._conn.execute(sql + " RETURNING *", args).fetchall()
        return Approval.from_row(rows[0])

    async def create(self, requester: str, tenant: str | None,
                     request: ApprovalRequest) -> Approval:
        def run() -> Approval:
            now = time.time()
            with self._transaction():
                return self._returning(
                    "INSERT INTO approvals (id, requester, tenant, method, path, query_fp,"
                    " max_records, unmask, reason, ticket, approvals_needed, created_at,"
                    " expires_at, uses_left) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (secrets.token_urlsafe(16), requester, tenant, request.method, request.path,
                     request.query_fp, request.max_records, orjson.dumps(request.unmask),
                     request.reason, request.ticket, max(1, request.approvals_needed), now,
                     now + request.ttl_seconds, max(1, request.uses)))
        return await self._run(run)

    async def get(self, approval_id: str) -> Approval | None:
        return await self._run(lambda: self._fetch(approval_id))

    async def list(self, state: str | None = None,
                   tenant: str | None = None) -> builtins.list[Approval]:
        def run() -> builtins.list[Approval]:
            rows = self._conn.execute(
                "SELECT * FROM approvals WHERE (?1 IS NULL OR state = ?1)"
                " AND (?2 IS NULL OR tenant = ?2) ORDER BY created_at, rowid",
                (state, tenant)).fetchall()
            return [Approval.from_row(row) for row in rows]
        return await self._run(run)

    def _decidable(self, approval_id: str, approver: str,
                   approver_tenants: tuple[str, ...]) -> Approval:
        """The pending row ``approver`` may decide on; expires it if it is stale."""
        row = self._fetch(approval_id)
        if row is None:
            raise ApprovalError("unknown", "no such approval")
        if row.state != "pending":
            raise ApprovalError("not_pending", f"approval is {row.state}")
        if row.expires_at <= time.time():
            self._conn.execute("UPDATE approvals SET state = 'expired' WHERE id = ?",
                               (approval_id,))
            raise ApprovalError("expired", "approval request has expired")
        if approver == row.requester:
            raise ApprovalError("self_approval", "requesters cannot decide their own request")
        if "*" not in approver_tenants and row.tenant not in approver_tenants:
            raise ApprovalError("wrong_tenant", "approver is not responsible for this tenant")
        if approver in row.approvers:
            raise ApprovalError("already_approved", "this approver has already approved")
        return row

    async def approve(self, approval_id: str, approver: str,
                      approver_tenants: tuple[str, ...], comment: str | None) -> Approval:
        def run() -> Approval:
            with self._transaction():
                row = self._decidable(approval_id, approver, approver_tenants)
                approvers = (*row.approvers, approver)
                state = "approved" if len(approvers) >= row.approvals_needed else "pending"
                return self._returning("UPDATE approvals SET approvers = ?, state = ?,"
                                    " decided_comment = ? WHERE id = ?",
                                    (orjson.dumps(approvers), state, comment, approval_id))
        return await self._run(run)

    async def deny(self, approval_id: str, approver: str,
                   approver_tenants: tuple[str, ...], comment: str | None) -> Approval:
        def run() -> Approval:
            with self._transaction():
                self._decidable(approval_id, approver, approver_tenants)
                return self._returning("UPDATE approvals SET state = 'denied',"
                                    " decided_comment = ? WHERE id = ?", (comment, approval_id))
        return await self._run(run)

    async def revoke(self, approval_id: str, actor: str) -> Approval:
        def run() -> Approval:
            with self._transaction():
                row = self._fetch(approval_id)
                if row is None:
                    raise ApprovalError("unknown", "no such approval")
                if row.state not in ("pending", "approved"):
                    raise ApprovalError("not_revocable", f"approval is {row.state}")
                return self._returning("UPDATE approvals SET state = 'revoked',"
                                    " decided_comment = ? WHERE id = ?",
                                    (f"revoked by {actor}", approval_id))
        return await self._run(run)

    async def consume(self, approval_id: str, use: ApprovalUse,
                      now: float | None = None) -> Approval:
        def run() -> Approval:
            at = time.time() if now is None else now
            with self._transaction() as conn:
                rows = conn.execute(_CONSUME, (approval_id, use.requester, use.method,
                                              use.path, use.query_fp, use.records,
                                              at)).fetchall()
                current = None if rows else self._fetch(approval_id)
            if rows:
                return Approval.from_row(rows[0])
            if current is None:
                raise ApprovalError("unknown", "no such approval")
            raise _use_refusal(current, use, at)
        return await self._run(run)

    async def expire_stale(self, now: float | None = None) -> int:
        def run() -> int:
            at = time.time() if now is None else now
            with self._transaction() as conn:
                cursor = conn.execute("UPDATE approvals SET state = 'expired' WHERE state IN"
                                      " ('pending', 'approved') AND expires_at <= ?", (at,))
            return cursor.rowcount
        return await self._run(run)
