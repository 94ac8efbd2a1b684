"""The brute-force guard on shared counters: same behaviour on memory and Redis, one count
across replicas, fail closed when the counters are gone, one deduplicable incident per IP."""

from __future__ import annotations

import pytest

from detectors.fingerprint import Fingerprinter
from gateway.counters_redis import RedisCounters
from gateway.metrics import GatewayMetrics
from gateway.rate_config import RateGuardConfig
from gateway.stages.rate_guard import RateGuardStage
from reports.incident import IncidentEvent
from tests.conftest import make_exchange
from tests.gateway.stages.test_rate_guard import attempt

FP = Fingerprinter(b"k" * 32)


class Collected:
    """An IncidentSink that keeps what it is given."""

    def __init__(self) -> None:
        self.events: list[IncidentEvent] = []

    async def report(self, event: IncidentEvent) -> None:
        self.events.append(event)


def guard(counters, config: RateGuardConfig, sink: Collected | None = None) -> RateGuardStage:
    return RateGuardStage(config, GatewayMetrics("t"), FP, counters, sink)


async def test_bans_escalate_on_both_backends(counters, clock):
    config = RateGuardConfig(max_failures_per_ip=3, max_failures_per_account=5,
                             window_seconds=60, ban_seconds=[10, 100])
    stage = guard(counters, config)
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


async def test_successes_are_not_counted_and_daily_cap_bans(counters, clock):
    config = RateGuardConfig(max_failures_per_ip=5, window_seconds=60, daily_cap_per_ip=6,
                             max_accounts_per_ip=100, ban_seconds=[30])
    stage = guard(counters, config)
    assert [await attempt(stage, "5.5.5.5", "ok", 200) for _ in range(10)] == [200] * 10
    outcomes = []
    for i in range(8):
        outcomes.append(await attempt(stage, "5.5.5.5", f"a{i}"))
        clock.now += 20
    assert outcomes[:7] == [401] * 7 and outcomes[7] == 429, outcomes


async def test_failures_split_across_two_replicas_trip_one_ban(redis_url, redis_prefix):
    config = RateGuardConfig(max_failures_per_ip=6, max_accounts_per_ip=100)
    first = RedisCounters.from_url(redis_url, redis_prefix)
    second = RedisCounters.from_url(redis_url, redis_prefix)
    replicas = [guard(first, config), guard(second, config)]
    results = [await attempt(replicas[i % 2], "7.7.7.7", f"x{i}") for i in range(9)]
    assert results == [401] * 6 + [429] * 3
    assert await attempt(replicas[0], "7.7.7.8", "x") == 401, "another IP is unaffected"
    await first.close()
    await second.close()


async def test_ban_reports_one_deduplicable_incident_without_account_names(counters):
    sink = Collected()
    config = RateGuardConfig(max_failures_per_ip=50, max_failures_per_account=2,
                             max_accounts_per_ip=2)
    stage = guard(counters, config, sink)
    for i in range(2):
        await attempt(stage, "8.8.8.8", "zhang.wei@example.com")
        await attempt(stage, "8.8.8.8", f"other{i}@example.com")
    assert {e.kind for e in sink.events} == {"brute_force"}
    assert {e.dedup_key for e in sink.events} == {"brute_force:8.8.8.8"}
    assert {e.rule for e in sink.events} == {"rate_guard.failures_in_window",
                                             "rate_guard.distinct_accounts"}
    account = next(e for e in sink.events if e.detail["key"] == "account")
    assert account.detail["account_fp"] == FP.fp("zhang.wei@example.com")
    assert "zhang" not in repr(sink.events)


@pytest.mark.parametrize("broken", ["on_request", "on_response"])
async def test_counters_down_raises_so_the_pipeline_fails_closed(broken, redis_url,
                                                                 redis_prefix):
    dead = RedisCounters.from_url("redis://127.0.0.1:1/0", "x:", timeout=0.5)
    live = RedisCounters.from_url(redis_url, redis_prefix)
    stage = guard(dead if broken == "on_request" else live, RateGuardConfig())
    ex = make_exchange("POST", "/login")

    async def body():
        yield b"username=u&password=x"

    ex.request.stream = body()
    if broken == "on_response":
        await stage.on_request(ex)
        ex.deny(401, "upstream answer", code="login")
        ex.denial = None
        stage._counters = dead
    with pytest.raises(Exception, match=r"(?i)connect"):
        await getattr(stage, broken)(ex)
    assert ex.response is None or ex.response.status == 401, "the stage itself never allows"
    await dead.close()
    await live.close()
