"""Per-user sliding-window volume, the daily baseline and incidents for blocked exports."""

from __future__ import annotations

import asyncio
import json
import secrets

import aiohttp
import pytest

from gateway.cli.demo import demo_config
from gateway.config import parse_config
from gateway.demo.crm import create_crm_app
from gateway.runtime import GATEWAY
from reports.incident_store import IncidentQuery

LIST = "/api/projects/proj1/customers"
CSV = "/api/projects/proj1/customers/export.csv"


@pytest.fixture(params=["memory", "redis"])
def counters(request):
    """The window's counters in this process, or shared in Redis under a fresh prefix."""
    if request.param == "memory":
        yield {"counters": "memory"}
        return
    import redis

    url = request.getfixturevalue("redis_url")
    prefix = f"t{secrets.token_hex(6)}:"
    yield {"counters": "redis", "redis_url": url, "redis_prefix": prefix}
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()


async def start(start_upstream, start_gateway, tmp_path, store=None, **exports):
    crm = await start_upstream(create_crm_app(seed=7, per_project=30))
    data = demo_config(int(crm.rsplit(":", 1)[1]), 0, str(tmp_path / "s"))
    data["exports"] = {"max_records": 60, "window_records": 100, **exports}
    if store:
        data["store"] = store
    return await start_gateway(crm, config=parse_config(data, env={}))


async def call(gw, path, user, **kwargs):
    headers = {"X-API-Key": f"demo-{user}", **kwargs.pop("headers", {})}
    method = kwargs.pop("method", "GET")
    async with aiohttp.ClientSession() as client, client.request(
        method, gw.url + path, headers=headers, **kwargs
    ) as resp:
        return resp.status, await resp.read()


def incidents(gw, kind):
    return gw.app[GATEWAY].incidents.search(IncidentQuery(kind=kind))


async def test_the_page_that_crosses_the_window_needs_an_approval(start_upstream,
                                                                  start_gateway, tmp_path,
                                                                  counters):
    gw = await start(start_upstream, start_gateway, tmp_path, store=counters)
    for offset in (0, 10):
        status, _ = await call(gw, f"{LIST}?limit=20&offset={offset}", "bob")
        assert status == 200
    for _ in range(2):  # 30 records come back, whatever the limit: 70, then exactly 100
        status, _ = await call(gw, f"{LIST}?limit=1000", "bob")
        assert status == 200
    status, body = await call(gw, f"{LIST}?limit=30&offset=5", "bob")
    assert status == 403
    refusal = json.loads(body)
    assert refusal["error"] == "approval_required" and refusal["rule"] == "window_volume"
    assert refusal["records"] == 25
    assert b"C1000006" not in body
    status, body = await call(gw, f"{LIST}/1", "bob")
    assert status == 403 and json.loads(body)["rule"] == "window_volume"
    status, _ = await call(gw, f"{LIST}?limit=30", "alice")
    assert status == 200, "the window is per user"

    status, body = await call(gw, "/_dlp/approvals", "bob", method="POST", json={
        "method": "GET", "path": f"{LIST}/1", "reason": "one more", "max_records": 1})
    approval = json.loads(body)["id"]
    await call(gw, f"/_dlp/approvals/{approval}/approve", "carol", method="POST")
    status, _ = await call(gw, f"{LIST}/1", "bob", headers={"X-DLP-Approval": approval})
    assert status == 200
    [incident] = incidents(gw, "export_blocked")
    assert incident.rule == "window_volume" and incident.event_count == 2


async def test_a_blocked_export_is_an_incident_without_raw_identities(start_upstream,
                                                                     start_gateway, tmp_path):
    gw = await start(start_upstream, start_gateway, tmp_path, window_records=None)
    for _ in range(2):
        status, _ = await call(gw, CSV, "bob")
        assert status == 403
    [incident] = incidents(gw, "export_blocked")
    assert incident.event_count == 2, "the second block joins the first incident"
    assert incident.record_count == 30 and incident.severity == "low"
    assert incident.rule == "file_download" and incident.route == "crm"
    assert incident.tenant == "proj1"
    assert incident.actor.startswith("hmac:") and "bob" not in json.dumps(incident.to_json())
    assert {c["entity"] for c in incident.categories} >= {"CN_RESIDENT_ID"}
    [evidence] = incident.evidence
    assert evidence["kind"] == "request_fingerprint" and evidence["digest"].startswith("hmac:")
    status, _ = await call(gw, CSV, "bob", headers={"X-DLP-Approval": "no-such-approval"})
    assert status == 403
    [incident] = incidents(gw, "export_blocked")
    assert incident.event_count == 3


async def test_a_day_far_above_the_baseline_raises_an_incident(start_upstream, start_gateway,
                                                               tmp_path):
    gw = await start(start_upstream, start_gateway, tmp_path, window_records=None,
                     baseline={"min_records": 50, "flush_seconds": 0.01})
    for _ in range(3):
        status, _ = await call(gw, f"{LIST}?limit=30", "bob")
        assert status == 200
    for _ in range(200):
        if incidents(gw, "volume_anomaly"):
            break
        await asyncio.sleep(0.05)
    [incident] = incidents(gw, "volume_anomaly")
    assert incident.actor.startswith("hmac:") and incident.record_count > 50
    status, _ = await call(gw, f"{LIST}?limit=30", "bob")
    assert status == 200, "the baseline alerts, it never blocks"
