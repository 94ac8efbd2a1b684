"""Incidents raised by live traffic: repeated policy denials, fail-closed stage failures."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from gateway.cli.demo import demo_config
from gateway.config import parse_config
from gateway.demo.crm import create_crm_app
from gateway.runtime import GATEWAY
from policies.access import PolicyError
from reports.audit_store import iter_entries
from reports.incident_store import IncidentQuery


@pytest.fixture
async def demo_gateway(start_upstream, start_gateway, tmp_path):
    crm = await start_upstream(create_crm_app(seed=7, per_project=20))
    port = int(crm.rsplit(":", 1)[1])
    data = demo_config(port, 0, str(tmp_path / "state"))
    data["incidents"] = {"denials_per_user": 5, "denials_window_seconds": 600}
    config = parse_config(data, env={})
    return await start_gateway(crm, config=config)


async def get(gw, path: str, user: str) -> int:
    async with aiohttp.ClientSession() as client, client.get(
            gw.url + path, headers={"X-API-Key": f"demo-{user}"}) as resp:
        await resp.read()
        return resp.status


async def test_denials_past_the_threshold_make_one_incident(demo_gateway):
    gw = demo_gateway.app[GATEWAY]
    for _ in range(4):
        assert await get(demo_gateway, "/api/projects/proj2/customers", "alice") == 403
    assert gw.incidents.search(IncidentQuery(kind="policy_denials")) == []
    for _ in range(3):
        assert await get(demo_gateway, "/api/projects/proj2/customers", "alice") == 403
    found = gw.incidents.search(IncidentQuery(kind="policy_denials"))
    assert len(found) == 1
    incident = found[0]
    assert incident.event_count == 3  # the 5th, 6th and 7th denial
    assert incident.actor is not None and "alice" not in incident.actor
    assert incident.actor.startswith("hmac:")
    await asyncio.to_thread(gw.audit_log.flush)
    opened = [json.loads(e.payload) for e in iter_entries(gw.database)
              if e.kind == "incident_opened"]
    assert [o["incident"] for o in opened] == [incident.id]
    # Allowed requests of another user do not count.
    assert await get(demo_gateway, "/api/projects/proj1/customers", "bob") == 200
    assert len(gw.incidents.search(IncidentQuery())) == 1


async def test_policy_failure_is_503_and_a_fail_closed_incident(demo_gateway, monkeypatch):
    gw = demo_gateway.app[GATEWAY]

    def broken(*args, **kwargs):
        raise PolicyError("the policy engine is gone")

    monkeypatch.setattr(gw.policy, "decide", broken)
    for _ in range(3):
        assert await get(demo_gateway, "/api/projects/proj1/customers", "bob") == 503
    found = gw.incidents.search(IncidentQuery(kind="fail_closed"))
    assert len(found) == 1
    assert found[0].event_count == 3
    assert found[0].detail["stage"] == "authz"
    assert found[0].containment and "503" in found[0].containment[0]["action"]


async def test_pii_on_a_route_declared_without_pii_is_a_leak_incident(
        start_upstream, start_gateway, tmp_path):
    crm = await start_upstream(create_crm_app(seed=7, per_project=20))
    port = int(crm.rsplit(":", 1)[1])
    data = demo_config(port, 0, str(tmp_path / "state"))
    data["routes"] = [
        {"name": "pages", "prefix": "/api/projects/proj1/customers/3", "upstream": "crm",
         "inspection": {"expect_pii": False}},
        {"name": "crm", "prefix": "/", "upstream": "crm"},
    ]
    gw = await start_gateway(crm, config=parse_config(data, env={}))
    state = gw.app[GATEWAY]
    assert await get(gw, "/api/projects/proj1/customers", "bob") == 200
    assert state.incidents.search(IncidentQuery()) == []  # PII expected there
    assert await get(gw, "/api/projects/proj1/customers/3", "bob") == 200
    for _ in range(50):
        found = state.incidents.search(IncidentQuery(kind="leak_detected"))
        if found:
            break
        await asyncio.sleep(0.05)
    assert len(found) == 1
    leak = found[0]
    assert leak.route == "pages" and leak.masked and not leak.breach
    assert {c["entity"] for c in leak.categories} >= {"CN_MOBILE"}
    assert leak.containment[0]["action"] == "masked by the gateway before delivery"
    text = str(leak.to_json())
    from gateway.demo.data import generate_customers
    for customer in generate_customers("proj1", 20, 7):
        assert customer.phone not in text and customer.id_number not in text
