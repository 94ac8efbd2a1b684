"""The recorder folds concurrent events into few writes and reports failures."""

from __future__ import annotations

import asyncio

import pytest

from reports.database import open_database
from reports.incident import IncidentEvent
from reports.incident_store import IncidentError, IncidentQuery, IncidentStore
from reports.recorder import IncidentRecorder, RecorderHooks


def brute(i: int = 0) -> IncidentEvent:
    return IncidentEvent(kind="brute_force", severity="high", rule="failed_logins_per_ip",
                         dedup_key="brute_force:203.0.113.7", summary="login brute force",
                         client_ip="203.0.113.7", request_id=f"r{i}")


async def test_100000_events_make_one_incident_with_the_right_count(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 's.db'}")
    store = IncidentStore(db)
    writes: list[tuple[bool, int]] = []
    recorder = IncidentRecorder(store, RecorderHooks(
        on_recorded=lambda inc, created, n: writes.append((created, n))))
    for start in range(0, 100_000, 10_000):
        await asyncio.gather(*(recorder.report(brute(i)) for i in range(start, start + 10_000)))
    found = store.search(IncidentQuery())
    assert len(found) == 1
    assert found[0].event_count == 100_000
    assert sum(n for _, n in writes) == 100_000
    assert len(writes) < 1000  # folded, not one transaction per event
    assert [created for created, _ in writes].count(True) == 1
    db.close()


async def test_failed_store_raises_to_reporters_and_counts(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 's.db'}")
    store = IncidentStore(db)
    failures: list[str] = []
    recorder = IncidentRecorder(store, RecorderHooks(on_failure=failures.append))
    db.close()
    (tmp_path / "s.db").unlink()
    (tmp_path / "s.db").mkdir()  # the file is now a directory: every write fails
    with pytest.raises(IncidentError):
        await recorder.report(brute())
    assert failures == ["brute_force"]
