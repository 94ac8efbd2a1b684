"""Incident admin API: roles, filters, triage, manual reports, errors — on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from aiohttp import web

from gateway.admin.incidents import IncidentApiOptions, add_incident_routes
from gateway.exchange import Principal
from reports.database import open_database
from reports.incident import IncidentEvent
from reports.incident_store import IncidentStore

PREFIX = "/_dlp/"
PEOPLE = {
    "grace": Principal("grace", ("compliance",), ("*",)),
    "dave": Principal("dave", ("auditor",), ("*",)),
    "bob": Principal("bob", ("customer_manager",), ("proj1",)),
    "root": Principal("root", ("admin",), ()),
}


async def authenticate(request: web.Request) -> Principal | None:
    """Identity-only test double: the header names a principal from the table."""
    return PEOPLE.get(request.headers.get("X-Test-User", ""))


def as_user(name: str) -> dict[str, str]:
    return {"X-Test-User": name}


@pytest.fixture
async def setup(aiohttp_client, database_url):
    db = open_database(database_url)
    store = IncidentStore(db)
    audit: list[dict] = []

    async def record(entry: dict) -> None:
        audit.append(entry)

    app = web.Application()
    add_incident_routes(app, PREFIX, store, authenticate, IncidentApiOptions(audit=record))
    client = await aiohttp_client(app)
    yield client, store, audit
    db.close()


def blocked(key: str = "export_blocked:u:crm", **kw) -> IncidentEvent:
    base = dict(kind="export_blocked", severity="high", rule="records_over_limit",
                dedup_key=key, summary="export blocked", categories={"CN_MOBILE": 300},
                record_count=300)
    base.update(kw)
    return IncidentEvent(**base)


async def test_readers_and_writers(setup):
    client, store, audit = setup
    incident, _ = store.record(blocked())
    assert (await client.get(PREFIX + "incidents")).status == 401
    assert (await client.get(PREFIX + "incidents", headers=as_user("bob"))).status == 403
    for reader in ("grace", "dave", "root"):
        resp = await client.get(PREFIX + "incidents", headers=as_user(reader))
        assert resp.status == 200
        assert [i["id"] for i in (await resp.json())["incidents"]] == [incident.id]
    url = f"{PREFIX}incidents/{incident.id}/actions"
    resp = await client.post(url, json={"action": "status", "status": "investigating"},
                             headers=as_user("dave"))
    assert resp.status == 403  # auditors read, never change
    resp = await client.post(url, json={"action": "status", "status": "investigating"},
                             headers=as_user("grace"))
    assert resp.status == 200 and (await resp.json())["status"] == "investigating"
    assert audit == [{"kind": "incident_status", "incident": incident.id, "actor": "grace",
                      "status": "investigating"}]


async def test_detail_filters_and_errors(setup):
    client, store, _ = setup
    high, _ = store.record(blocked("a"))
    low, _ = store.record(blocked("b", severity="low", kind="brute_force", categories={}))
    grace = as_user("grace")
    resp = await client.get(PREFIX + "incidents?severity=low", headers=grace)
    assert [i["id"] for i in (await resp.json())["incidents"]] == [low.id]
    resp = await client.get(PREFIX + "incidents?category=CN_MOBILE", headers=grace)
    assert [i["id"] for i in (await resp.json())["incidents"]] == [high.id]
    resp = await client.get(PREFIX + "incidents?since=2000-01-01T00:00:00", headers=grace)
    assert len((await resp.json())["incidents"]) == 2
    for bad in ("severity=urgent", "since=yesterday", "limit=0", "limit=abc", "status=gone"):
        resp = await client.get(PREFIX + "incidents?" + bad, headers=grace)
        assert resp.status == 400, bad
        assert (await resp.json())["error"] == "invalid_query"
    resp = await client.get(f"{PREFIX}incidents/{high.id}", headers=grace)
    body = await resp.json()
    assert body["incident"]["id"] == high.id
    assert [a["action"] for a in body["actions"]] == ["opened"]
    assert (await client.get(PREFIX + "incidents/INC-nope", headers=grace)).status == 404
    resp = await client.get(f"{PREFIX}incidents/{high.id}/report?format=json", headers=grace)
    assert resp.status == 200 and (await resp.json())["incident"]["id"] == high.id


async def test_triage_errors(setup):
    client, store, _ = setup
    incident, _ = store.record(blocked())
    url = f"{PREFIX}incidents/{incident.id}/actions"
    grace = as_user("grace")
    cases = [
        (b"not json", 400, "invalid_json"),
        (b'{"action": "explode"}', 400, "invalid_field"),
        (b'{"action": "note", "text": {"nested": 1}}', 400, "invalid_field"),
        (b'{"action": "status", "status": "reopened"}', 409, "invalid_transition"),
        (b'{"action": "notified", "regime": "GDPR"}', 409, "invalid_regime"),
    ]
    for body, status, code in cases:
        resp = await client.post(url, data=body, headers=grace)
        assert resp.status == status, body
        assert (await resp.json())["error"] == code
    resp = await client.post(f"{PREFIX}incidents/INC-0-X/actions",
                             json={"action": "note", "text": "x"}, headers=grace)
    assert resp.status == 404


async def test_manual_report_by_any_user(setup):
    client, _, audit = setup
    resp = await client.post(PREFIX + "incidents", headers=as_user("bob"), json={
        "summary": "a spreadsheet of proj1 customers was emailed out", "severity": "high",
        "breach": True, "masked": False, "subject_count": 120,
        "categories": {"CN_MOBILE": 120, "PERSON": 120}})
    assert resp.status == 201
    created = await resp.json()
    assert created["kind"] == "manual" and created["actor"] == "bob" and created["breach"]
    assert {n["regime"] for n in created["notifications"]} == {"PIPL", "GDPR"}
    assert audit[-1]["kind"] == "incident_reported"
    for bad in ({"severity": "high"}, {"summary": "x", "severity": "urgent"},
                {"summary": "x", "severity": "low", "categories": {"A": -1}},
                {"summary": "x", "severity": "low", "record_count": "many"}):
        resp = await client.post(PREFIX + "incidents", headers=as_user("bob"), json=bad)
        assert resp.status == 400, bad


async def test_store_failure_is_503(aiohttp_client):
    # A real database nobody listens on: every query fails to connect.
    db = open_database("postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=1",
                       migrate=False)
    app = web.Application()
    add_incident_routes(app, PREFIX, IncidentStore(db), authenticate)
    client = await aiohttp_client(app)
    resp = await client.get(PREFIX + "incidents", headers=as_user("grace"))
    assert resp.status == 503 and (await resp.json())["error"] == "store_failed"
    db.close()
