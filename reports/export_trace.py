"""Which approved export carried which watermark: what ``dlp-gateway trace`` searches.

One row per delivered export: the watermark id (the export key is derived from it and the
gateway's secret, so the table alone cannot forge a mark), the approval, the requester's
pseudonym, tenant, route, request, format, record count and time. No raw PII. Methods
are synchronous (callers on the event loop run them in a thread).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import sqlalchemy as sa

from reports.database import Database

__all__ = ["ExportTrace", "ExportTraceStore"]

_TABLE = sa.table(
    "export_traces", sa.column("watermark_id"), sa.column("approval_id"),
    sa.column("requester"), sa.column("tenant"), sa.column("route"), sa.column("method"),
    sa.column("path"), sa.column("format"), sa.column("records"), sa.column("created_at"),
)


@dataclass(frozen=True, slots=True)
class ExportTrace:
    watermark_id: str
    approval_id: str
    requester: str
    tenant: str | None
    route: str
    method: str
    path: str
    format: str
    records: int
    created_at: float


class ExportTraceStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    def record(self, trace: ExportTrace) -> None:
        with self._db.begin() as conn:
            conn.execute(sa.insert(_TABLE).values(**asdict(trace)))

    def list(self, since: float | None = None) -> list[ExportTrace]:
        """Every recorded export (optionally from ``since``), oldest first."""
        query = sa.select(_TABLE).order_by(_TABLE.c.created_at, _TABLE.c.watermark_id)
        if since is not None:
            query = query.where(_TABLE.c.created_at >= since)
        with self._db.read() as conn:
            return [ExportTrace(**row._asdict()) for row in conn.execute(query)]
