"""The gateway wires the shared state from ``store``: approvals in the shared database,
counters in Redis when configured, fail closed (503 + incident) when Redis is down."""

from __future__ import annotations

import logging

import aiohttp

from gateway.counters_redis import RedisCounters
from gateway.demo.crm import create_crm_app
from gateway.runtime import GATEWAY
from reports.database import open_database
from reports.incident_store import IncidentQuery


async def login(gw, user: str = "mallory", password: str = "guess") -> int:
    async with aiohttp.ClientSession() as client, client.post(
        gw.url + "/login", data={"username": user, "password": password}
    ) as resp:
        await resp.read()
        return resp.status


async def test_brute_force_on_redis_counters_bans_and_reports_one_incident(
    start_upstream, start_gateway, redis_url, redis_prefix
):
    crm = await start_upstream(create_crm_app(seed=7, per_project=5))
    gw = await start_gateway(crm, stages=["metrics", "rate_guard"], store={
        "counters": "redis", "redis_url": redis_url, "redis_prefix": redis_prefix},
        rate_guard={"max_failures_per_ip": 4, "max_accounts_per_ip": 100})
    assert isinstance(gw.app[GATEWAY].counters, RedisCounters)
    statuses = [await login(gw, f"user{i}") for i in range(10)]
    assert statuses == [401] * 4 + [429] * 6
    found = gw.app[GATEWAY].incidents.search(IncidentQuery(kind="brute_force"))
    assert len(found) == 1 and found[0].dedup_key == "brute_force:127.0.0.1"
    assert "user1" not in repr(found[0].to_json())


async def test_redis_down_fails_closed_with_503_and_an_incident(
    start_upstream, start_gateway, caplog
):
    crm = await start_upstream(create_crm_app(seed=7, per_project=5))
    gw = await start_gateway(crm, stages=["metrics", "rate_guard"], store={
        "counters": "redis", "redis_url": "redis://127.0.0.1:1/0"})
    with caplog.at_level(logging.ERROR):
        assert await login(gw) == 503
    async with aiohttp.ClientSession() as client, client.get(gw.url + "/api/health") as resp:
        assert resp.status == 200, "only login routes depend on the counters"
    found = gw.app[GATEWAY].incidents.search(IncidentQuery(kind="fail_closed"))
    assert [i.rule for i in found] == ["stage_failed:rate_guard"]
    assert found[0].detail["error"] == "ConnectionError"
    assert "rate_guard.on_request failed: ConnectionError" in caplog.text


async def test_approvals_live_in_the_shared_database_and_store_path_is_deprecated(
    start_upstream, start_gateway, tmp_path, caplog
):
    crm = await start_upstream(create_crm_app(seed=7, per_project=5))
    with caplog.at_level(logging.WARNING):
        gw = await start_gateway(crm, exports={"store_path": "old.sqlite3"})
    assert "exports.store_path is deprecated" in caplog.text
    approvals = gw.app[GATEWAY].approvals
    from gateway.approvals import ApprovalRequest

    made = await approvals.create("bob", "proj1", ApprovalRequest(
        "GET", "/api/projects/proj1/customers/export.csv", "fp", "audit", 10))
    db = open_database(gw.config.database_url())
    with db.read() as conn:
        assert conn.exec_driver_sql("SELECT id FROM approvals").scalar() == made.id
    db.close()
    assert not (tmp_path / "state" / "old.sqlite3").exists()
