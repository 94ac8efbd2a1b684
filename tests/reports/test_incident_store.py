"""Incident store on SQLite and PostgreSQL: dedup window, lifecycle, filters, deadlines."""

from __future__ import annotations

import threading

import pytest

from reports.database import open_database
from reports.deadlines import Regimes
from reports.incident import IncidentEvent
from reports.incident_store import IncidentError, IncidentQuery, IncidentStore
from tests.conftest import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock(1_800_000_000.0)


@pytest.fixture
def store(database_url: str, clock: Clock):
    db = open_database(database_url)
    yield IncidentStore(db, window=600, clock=clock,
                        regimes=Regimes(cac_large_subjects=1000, cac_major_subjects=10_000))
    db.close()


def event(key: str = "export_blocked:u1:crm", **kw) -> IncidentEvent:
    base = dict(kind="export_blocked", severity="medium", rule="records_over_limit",
                dedup_key=key, summary="export blocked", route="crm", actor="hmac:abc",
                categories={"CN_MOBILE": 50, "CN_RESIDENT_ID": 50}, record_count=50)
    base.update(kw)
    return IncidentEvent(**base)


def test_same_key_inside_window_extends_one_incident(store, clock):
    first, created = store.record(event())
    clock.now += 300
    second, again = store.record(event(record_count=80, severity="high",
                                       categories={"EMAIL_ADDRESS": 3}))
    assert created and not again
    assert second.id == first.id
    assert second.event_count == 2
    assert second.record_count == 80
    assert second.severity == "high"
    assert {c["entity"] for c in second.categories} == {"CN_MOBILE", "CN_RESIDENT_ID",
                                                         "EMAIL_ADDRESS"}
    assert second.last_seen_at == clock.now


def test_outside_window_or_after_close_opens_a_new_incident(store, clock):
    first, _ = store.record(event())
    clock.now += 601
    second, created = store.record(event())
    assert created and second.id != first.id
    store.change(second.id, "grace", "status", {"status": "closed"})
    third, created = store.record(event())
    assert created and third.id not in {first.id, second.id}


def test_count_argument_adds_folded_events(store):
    store.record(event("brute_force:10.0.0.9", kind="brute_force"), count=99_999)
    incident, created = store.record(event("brute_force:10.0.0.9", kind="brute_force"))
    assert not created
    assert incident.event_count == 100_000
    assert len(store.search(IncidentQuery(kind="brute_force"))) == 1


def test_categories_carry_class_and_pipl_flag(store):
    incident, _ = store.record(event())
    by_entity = {c["entity"]: c for c in incident.categories}
    assert by_entity["CN_RESIDENT_ID"]["pipl_sensitive"] is True
    assert by_entity["CN_RESIDENT_ID"]["c_class"] == "C2"
    assert by_entity["CN_MOBILE"]["pipl_sensitive"] is False


def test_lifecycle_transitions_and_action_log(store):
    incident, _ = store.record(event())
    store.change(incident.id, "grace", "assign", {"assignee": "grace"})
    store.change(incident.id, "grace", "status", {"status": "investigating"})
    store.change(incident.id, "grace", "contain", {"measure": "revoked bob's API key"})
    store.change(incident.id, "grace", "note", {"text": "talked to bob"})
    done = store.change(incident.id, "grace", "status", {"status": "closed"})
    assert done.status == "closed" and done.assignee == "grace"
    assert done.times["closed"] is not None and done.times["contained"] is not None
    assert done.containment[-1]["action"] == "revoked bob's API key"
    actions = [a["action"] for a in store.actions(incident.id)]
    assert actions == ["opened", "assign", "status", "contain", "note", "status"]
    with pytest.raises(IncidentError) as err:
        store.change(incident.id, "grace", "status", {"status": "contained"})
    assert err.value.code == "invalid_transition"
    with pytest.raises(IncidentError):
        store.change("INC-none", "grace", "note", {"text": "x"})


def test_filters(store, clock):
    a, _ = store.record(event("k1", severity="high"))
    clock.now += 10
    b, _ = store.record(event("k2", kind="brute_force", categories={}))
    store.change(b.id, "grace", "status", {"status": "false_positive"})
    assert [i.id for i in store.search(IncidentQuery(severity="high"))] == [a.id]
    assert [i.id for i in store.search(IncidentQuery(status="false_positive"))] == [b.id]
    assert [i.id for i in store.search(IncidentQuery(category="CN_MOBILE"))] == [a.id]
    assert [i.id for i in store.search(IncidentQuery(category="MOBILE"))] == []
    assert [i.id for i in store.search(IncidentQuery(since=clock.now - 5))] == [b.id]
    assert [i.id for i in store.search(IncidentQuery())] == [b.id, a.id]
    assert store.open_counts()["high"] == 1 and store.open_counts()["medium"] == 0


def test_near_miss_has_no_deadlines_a_breach_does(store, clock):
    near, _ = store.record(event())
    assert near.notifications == [] and near.times["aware"] is None
    leak, _ = store.record(event("leak:crm", kind="leak_detected", breach=True, masked=False,
                                 subject_count=5000))
    regimes = {n["regime"]: n for n in leak.notifications}
    assert set(regimes) == {"PIPL", "CAC", "GDPR"}
    assert regimes["CAC"]["deadline"] == clock.now + 4 * 3600
    assert regimes["GDPR"]["deadline"] == clock.now + 72 * 3600
    assert regimes["GDPR"]["required"] is True
    assert leak.cac_grade.startswith("较大")
    assert store.overdue_notifications() == 0
    clock.now += 2 * 3600
    assert store.overdue_notifications() == 1  # PIPL's one-hour target passed
    store.change(leak.id, "grace", "notified", {"regime": "PIPL", "reference": "ref-1"})
    assert store.overdue_notifications() == 0
    clock.now += 3 * 3600
    assert store.overdue_notifications() == 1  # CAC's four hours passed


def test_masked_breach_needs_no_gdpr_notification(store):
    leak, _ = store.record(event("leak:x", kind="leak_detected", breach=True, masked=True))
    gdpr = next(n for n in leak.notifications if n["regime"] == "GDPR")
    assert gdpr["required"] is False and leak.gdpr_risk == "low"
    assert all(n["regime"] != "CAC" for n in leak.notifications)


def test_becoming_aware_starts_the_clocks(store, clock):
    near, _ = store.record(event())
    clock.now += 100
    aware = store.change(near.id, "grace", "aware", {})
    assert aware.breach and aware.times["aware"] == clock.now
    assert {n["regime"] for n in aware.notifications} >= {"PIPL", "GDPR"}


def test_concurrent_writers_share_one_incident(database_url: str):
    dbs = [open_database(database_url) for _ in range(4)]
    stores = [IncidentStore(db) for db in dbs]
    errors: list[BaseException] = []

    def hammer(store: IncidentStore) -> None:
        try:
            for _ in range(25):
                store.record(event("race"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    found = stores[0].search(IncidentQuery())
    for db in dbs:
        db.close()
    assert len(found) == 1 and found[0].event_count == 100
