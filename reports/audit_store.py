"""The audit chain's tables and the few statements that touch them.

Writers take the head row under a lock inside their transaction: on SQLite the
transaction already holds the database's write lock (``BEGIN IMMEDIATE``); on PostgreSQL
``SELECT ... FOR UPDATE`` on the single head row serialises writers across processes and
hosts, so there is one chain with no gaps however many gateways append at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from reports.audit_chain import Checkpoint, Signer, entry_body, entry_hash
from reports.database import Database

__all__ = [
    "CHECKPOINTS",
    "ENTRIES",
    "HEAD",
    "PendingEntry",
    "PruneResult",
    "StoredEntry",
    "append_entries",
    "iter_entries",
    "latest_checkpoint",
    "load_checkpoints",
    "lock_head",
    "prune_before",
    "read_head",
    "write_checkpoint",
]

_META = sa.MetaData()
ENTRIES = sa.Table(
    "audit_entries", _META,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("at", sa.String(32)), sa.Column("kind", sa.String(40)),
    sa.Column("actor", sa.String(200)), sa.Column("payload", sa.Text),
    sa.Column("prev_hash", sa.String(64)), sa.Column("hash", sa.String(64)),
)
CHECKPOINTS = sa.Table(
    "audit_checkpoints", _META,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("seq", sa.BigInteger), sa.Column("head_hash", sa.String(64)),
    sa.Column("at", sa.String(32)), sa.Column("reason", sa.String(16)),
    sa.Column("key_id", sa.String(64)), sa.Column("signature", sa.String(200)),
)
HEAD = sa.Table(
    "audit_head", _META,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("seq", sa.BigInteger), sa.Column("hash", sa.String(64)),
)
_PAGE = 5000
_INSERT = ("INSERT INTO audit_entries (seq, at, kind, actor, payload, prev_hash, hash) "
           "VALUES ({})")


@dataclass(frozen=True, slots=True)
class PendingEntry:
    """An entry ready to be chained: ``payload`` is already canonical JSON."""

    at: str
    kind: str
    actor: str | None
    payload: bytes


@dataclass(frozen=True, slots=True)
class StoredEntry:
    seq: int
    at: str
    kind: str
    actor: str | None
    payload: str
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class PruneResult:
    cut_seq: int
    deleted: int
    checkpoint: Checkpoint | None


def lock_head(conn: Connection) -> tuple[int, str]:
    query = sa.select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).one()
    return int(row.seq), str(row.hash)


def read_head(db: Database) -> tuple[int, str]:
    with db.read() as conn:
        row = conn.execute(sa.select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1)).one()
    return int(row.seq), str(row.hash)


def append_entries(conn: Connection, entries: Sequence[PendingEntry]) -> list[int]:
    """Chain ``entries`` after the locked head, in order; returns their ``seq``."""
    seq, head = lock_head(conn)
    first = seq + 1
    rows: list[tuple[object, ...]] = []
    for entry in entries:
        seq += 1
        digest = entry_hash(head, entry_body(seq, entry.at, entry.kind, entry.actor,
                                             entry.payload))
        rows.append((seq, entry.at, entry.kind, entry.actor, entry.payload.decode(), head,
                     digest))
        head = digest
    if rows:
        # The driver's executemany: SQLAlchemy's per-row parameter processing would cost
        # more than hashing and encoding the entry.
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(_INSERT.format(", ".join([mark] * 7)), rows)
        conn.execute(HEAD.update().where(HEAD.c.id == 1).values(seq=seq, hash=head))
    return list(range(first, seq + 1))


def latest_checkpoint(conn: Connection) -> Checkpoint | None:
    row = conn.execute(sa.select(CHECKPOINTS).order_by(CHECKPOINTS.c.seq.desc(),
                                                       CHECKPOINTS.c.id.desc()).limit(1)).first()
    return _checkpoint(row) if row is not None else None


def write_checkpoint(conn: Connection, signer: Signer, at: str, reason: str) -> Checkpoint | None:
    """Sign the locked head unless a checkpoint already covers it (or the chain is empty)."""
    seq, head = lock_head(conn)
    last = latest_checkpoint(conn)
    if seq == 0 or (last is not None and last.seq >= seq):
        return None
    cp = signer.checkpoint(seq, head, at, reason)
    conn.execute(CHECKPOINTS.insert().values(seq=cp.seq, head_hash=cp.head_hash, at=cp.at,
                                             reason=cp.reason, key_id=cp.key_id,
                                             signature=cp.signature))
    return cp


def prune_before(db: Database, signer: Signer, cutoff: str, at: str) -> PruneResult:
    """Delete the oldest entries up to the first one at or after ``cutoff``.

    The cut is a prefix of the chain (times from several writers need not be monotonic);
    a signed ``prune`` checkpoint on the last deleted entry anchors what remains.
    """
    with db.begin() as conn:
        head_seq, _ = lock_head(conn)
        first_kept = conn.execute(sa.select(sa.func.min(ENTRIES.c.seq))
                                  .where(ENTRIES.c.at >= cutoff)).scalar()
        oldest = conn.execute(sa.select(sa.func.min(ENTRIES.c.seq))).scalar()
        cut = int(first_kept) - 1 if first_kept is not None else head_seq
        if oldest is None or cut < int(oldest):
            return PruneResult(cut_seq=0, deleted=0, checkpoint=None)
        cut_hash = conn.execute(sa.select(ENTRIES.c.hash).where(ENTRIES.c.seq == cut)).scalar_one()
        cp = signer.checkpoint(cut, str(cut_hash), at, "prune")
        conn.execute(CHECKPOINTS.insert().values(seq=cp.seq, head_hash=cp.head_hash, at=cp.at,
                                                 reason=cp.reason, key_id=cp.key_id,
                                                 signature=cp.signature))
        deleted = conn.execute(ENTRIES.delete().where(ENTRIES.c.seq <= cut)).rowcount
    return PruneResult(cut_seq=cut, deleted=int(deleted), checkpoint=cp)


def load_checkpoints(db: Database) -> list[Checkpoint]:
    with db.read() as conn:
        rows = conn.execute(sa.select(CHECKPOINTS).order_by(CHECKPOINTS.c.seq,
                                                            CHECKPOINTS.c.id)).all()
    return [_checkpoint(row) for row in rows]


def iter_entries(db: Database, since: str | None = None,
                 until: str | None = None) -> Iterator[StoredEntry]:
    """Entries in ``seq`` order, page by page; ``since`` ≤ ``at`` < ``until`` when given."""
    after = -1
    while True:
        query = sa.select(ENTRIES).where(ENTRIES.c.seq > after)
        if since is not None:
            query = query.where(ENTRIES.c.at >= since)
        if until is not None:
            query = query.where(ENTRIES.c.at < until)
        with db.read() as conn:
            rows = conn.execute(query.order_by(ENTRIES.c.seq).limit(_PAGE)).all()
        for row in rows:
            yield StoredEntry(int(row.seq), row.at, row.kind, row.actor, row.payload,
                              row.prev_hash, row.hash)
        if len(rows) < _PAGE:
            return
        after = int(rows[-1].seq)


def _checkpoint(row: sa.Row[tuple[object, ...]]) -> Checkpoint:
    return Checkpoint(seq=int(row.seq), head_hash=row.head_hash, at=row.at, reason=row.reason,
                      key_id=row.key_id, signature=row.signature)
