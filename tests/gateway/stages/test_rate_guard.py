"""The brute-force guard against the demo CRM's real login, and its escalation."""

from __future__ import annotations

import asyncio
import json
import re

import aiohttp
import pytest
from aiohttp import web

from detectors.fingerprint import Fingerprinter
from gateway.counters import MemoryCounters
from gateway.demo.crm import create_crm_app
from gateway.metrics import GatewayMetrics
from gateway.rate_config import RateGuardConfig
from gateway.runtime import GATEWAY
from gateway.stages.rate_guard import RateGuardStage
from reports.incident_store import IncidentQuery
from tests.conftest import Clock, make_exchange


def counting_crm() -> tuple[web.Application, list[int]]:
    seen: list[int] = []

    @web.middleware
    async def count(request: web.Request, handler):  # type: ignore[no-untyped-def]
        if request.path == "/login":
            seen.append(1)
        return await handler(request)

    app = create_crm_app(seed=7, per_project=5)
    app.middlewares.append(count)
    return app, seen


@pytest.mark.slow
async def test_100000_attempts_from_one_ip_reach_the_upstream_at_most_20_times(
    start_upstream, start_gateway
):
    app, seen = counting_crm()
    gw = await start_gateway(await start_upstream(app), stages=["metrics", "rate_guard"])
    statuses: dict[int, int] = {}
    attempts = 100_000
    queue = iter(range(attempts))

    async def worker(client: aiohttp.ClientSession) -> None:
        for i in queue:
            data = {"username": f"user{i % 5000}", "password": "guess"}
            async with client.post(gw.url + "/login", data=data) as resp:
                await resp.read()
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
                if resp.status == 429:
                    assert int(resp.headers["Retry-After"]) > 0

    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as client:
        await asyncio.gather(*(worker(client) for _ in range(64)))
    assert sum(statuses.values()) == attempts
    assert len(seen) <= 20
    assert statuses.get(401, 0) == len(seen)
    assert statuses[429] == attempts - len(seen)
    rendered = gw.app[GATEWAY].metrics.render().decode()
    assert "dlpgw_bruteforce_bans_total" in rendered
    bans = int(float(re.search(r"^dlpgw_bruteforce_bans_total (\S+)$", rendered,
                               re.MULTILINE).group(1)))
    assert bans >= 1
    # One deduplicated incident whose counter holds every ban and every refused attempt.
    found = gw.app[GATEWAY].incidents.search(IncidentQuery())
    assert [i.kind for i in found] == ["brute_force"]
    assert found[0].event_count == statuses[429] + bans
    assert found[0].client_ip == "127.0.0.1"


async def test_a_correct_password_is_not_counted(start_upstream, start_gateway):
    app, seen = counting_crm()
    gw = await start_gateway(await start_upstream(app), stages=["rate_guard"])
    async with aiohttp.ClientSession() as client:
        for _ in range(30):
            async with client.post(gw.url + "/login", data={
                "username": "alice", "password": "alice-password"}) as resp:
                assert resp.status == 200
                assert json.loads(await resp.read())["ok"] is True
    assert len(seen) == 30


async def attempt(stage: RateGuardStage, ip: str, user: str, status: int = 401) -> int:
    ex = make_exchange("POST", "/login")
    ex.request.client_ip = ip

    async def body():
        yield f"username={user}&password=x".encode()

    ex.request.stream = body()
    await stage.on_request(ex)
    if ex.response is not None:
        return ex.response.status
    ex.deny(status, "upstream answer", code="login")
    ex.denial = None
    await stage.on_response(ex)
    return status


async def test_bans_escalate_and_accounts_are_guarded_across_ips():
    clock = Clock(1000.0)
    config = RateGuardConfig(max_failures_per_ip=3, max_failures_per_account=5,
                             window_seconds=60, ban_seconds=[10, 100])
    stage = RateGuardStage(config, GatewayMetrics("t"), Fingerprinter(b"k" * 32),
                           MemoryCounters(clock))
    assert [await attempt(stage, "1.1.1.1", f"u{i}") for i in range(4)] == [401, 401, 401, 429]
    clock.now += 11
    assert await attempt(stage, "1.1.1.1", "u9") == 429, "the window is still full"
    clock.now += 60
    assert [await attempt(stage, "1.1.1.1", f"v{i}") for i in range(4)] == [401, 401, 401, 429]
    clock.now += 61
    assert await attempt(stage, "1.1.1.1", "w") == 429, "the second ban lasts 100 s"
    clock.now += 40
    assert await attempt(stage, "1.1.1.1", "w") == 401
    results = [await attempt(stage, f"10.0.0.{i}", "victim") for i in range(7)]
    assert results[:5] == [401] * 5 and results[5:] == [429, 429]


async def test_distinct_accounts_per_ip_trigger_a_ban():
    clock = Clock(1000.0)
    config = RateGuardConfig(max_failures_per_ip=100, max_accounts_per_ip=3)
    stage = RateGuardStage(config, GatewayMetrics("t"), Fingerprinter(b"k" * 32),
                           MemoryCounters(clock))
    results = [await attempt(stage, "2.2.2.2", f"acct{i}") for i in range(6)]
    assert results == [401, 401, 401, 401, 429, 429]


async def test_no_account_names_in_logs(caplog):
    stage = RateGuardStage(RateGuardConfig(max_failures_per_account=1), GatewayMetrics("t"),
                           Fingerprinter(b"k" * 32), MemoryCounters(Clock(1000.0)))
    await attempt(stage, "3.3.3.3", "zhang.wei@example.com")
    assert "zhang.wei" not in caplog.text
