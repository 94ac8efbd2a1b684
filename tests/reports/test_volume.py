"""Daily per-user totals in the shared database and the median/MAD baseline."""

from __future__ import annotations

import pytest

from reports.database import open_database
from reports.incident_store import IncidentQuery, IncidentStore
from reports.recorder import IncidentRecorder
from reports.volume import BaselineSettings, DailyVolume, VolumeBaseline, volume_threshold

DAY = 86400
TODAY = 20_000
SETTINGS = BaselineSettings(days=14, k=6.0, min_records=50, flush_seconds=3600)
NORMAL = [120, 95, 130, 110, 0, 0, 125, 118, 102, 140, 0, 0, 115, 108]


@pytest.fixture
def database(database_url):
    db = open_database(database_url)
    yield db
    db.close()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def seed(db, user: str, history: list[int]) -> None:
    store = DailyVolume(db)
    for offset, amount in enumerate(history):
        if amount:
            store.add(TODAY - len(history) + offset, {user: amount})


async def baseline_for(db, clock):
    store = IncidentStore(db)
    recorder = IncidentRecorder(store)
    return VolumeBaseline(DailyVolume(db), SETTINGS, recorder, clock), store, recorder


def test_totals_add_up_and_history_fills_missing_days(database):
    store = DailyVolume(database)
    assert store.add(TODAY, {"hmac:a": 10, "hmac:b": 3}) == {"hmac:a": 10, "hmac:b": 3}
    assert store.add(TODAY, {"hmac:a": 5}) == {"hmac:a": 15}
    store.add(TODAY - 2, {"hmac:a": 7})
    assert store.history("hmac:a", TODAY + 1, 4) == [0, 7, 0, 15]
    assert store.history("hmac:c", TODAY + 1, 2) == [0, 0]


def test_threshold_is_median_plus_k_mad_with_a_floor():
    assert volume_threshold([], SETTINGS) == 50
    assert volume_threshold([0] * 14, SETTINGS) == 50
    limit = volume_threshold(NORMAL, SETTINGS)
    assert 200 < limit < 400
    assert volume_threshold([100] * 14, SETTINGS) == 100


@pytest.mark.parametrize(("today", "alert"), [(150, False), (220, False), (2000, True)])
async def test_an_outlier_raises_one_incident_normal_variation_none(database, today, alert):
    seed(database, "hmac:bob", NORMAL)
    baseline, store, recorder = await baseline_for(database, Clock(TODAY * DAY + 3600))
    half = today // 2
    baseline.observe("hmac:bob", half, "crm", "proj1")
    baseline.observe("hmac:bob", today - half, "crm", "proj1")
    events = await baseline.flush()
    baseline.observe("hmac:bob", 10, "crm", "proj1")
    events += await baseline.flush()
    await baseline.close()
    await recorder.close()
    found = store.search(IncidentQuery(kind="volume_anomaly"))
    assert len(events) == len(found) == (1 if alert else 0)
    if alert:
        assert found[0].actor == "hmac:bob" and found[0].record_count == today
        assert found[0].tenant == "proj1" and found[0].route == "crm"


async def test_totals_survive_a_restart_and_are_shared(database):
    clock = Clock(TODAY * DAY + 60)
    first, _, rec1 = await baseline_for(database, clock)
    second, store, rec2 = await baseline_for(database, clock)
    first.observe("hmac:eve", 40, "crm", None)
    await first.close()
    second.observe("hmac:eve", 40, "crm", None)
    await second.close()
    await rec1.close()
    await rec2.close()
    assert DailyVolume(database).history("hmac:eve", TODAY + 1, 1) == [80]
    assert len(store.search(IncidentQuery(kind="volume_anomaly"))) == 1


async def test_a_failed_write_keeps_the_counts(database, monkeypatch):
    clock = Clock(TODAY * DAY + 60)
    baseline, _, recorder = await baseline_for(database, clock)
    store = DailyVolume(database)
    baseline._store = store
    original = store.add

    def broken(*args):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(store, "add", broken)
    baseline.observe("hmac:eve", 30, "crm", None)
    assert await baseline.flush() == []
    monkeypatch.setattr(store, "add", original)
    await baseline.close()
    await recorder.close()
    assert store.history("hmac:eve", TODAY + 1, 1) == [30]
