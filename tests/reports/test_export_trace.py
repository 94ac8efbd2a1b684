"""The export trace table on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from reports.database import DatabaseError, open_database
from reports.export_trace import ExportTrace, ExportTraceStore


def row(watermark_id: str, at: float) -> ExportTrace:
    return ExportTrace(watermark_id, "A1", "hmac:bob", "proj1", "crm", "GET",
                       "/api/projects/proj1/customers/export.csv", "csv", 300, at)


def test_traces_are_recorded_listed_and_unique(database_url):
    db = open_database(database_url)
    try:
        store = ExportTraceStore(db)
        store.record(row("wm-2", 20.0))
        store.record(row("wm-1", 10.0))
        assert [t.watermark_id for t in store.list()] == ["wm-1", "wm-2"]
        assert store.list(since=15.0) == [row("wm-2", 20.0)]
        with pytest.raises(DatabaseError, match=r"(?i)unique|duplicate"):
            store.record(row("wm-1", 30.0))
    finally:
        db.close()
