"""The Counters contract, run against memory and Redis with one fake clock."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from gateway.counters import Block
from gateway.counters_redis import RedisCounters


async def test_add_is_a_sliding_sum(counters, clock):
    assert await counters.add("user:u1", 300, 3600) == 300
    clock.now += 1800
    assert await counters.add("user:u1", 500, 3600) == 800
    assert await counters.add("user:u2", 7, 3600) == 7
    clock.now += 1800
    assert await counters.add("user:u1", 0, 3600) == 500, "the first 300 left the window"
    clock.now += 3600
    assert await counters.add("user:u1", 0, 3600) == 0


async def test_admit_stops_at_the_limit_of_any_key(counters, clock):
    keys, limits = ["ip:1", "account:a"], [3, 2]
    assert [await counters.admit(keys, limits, 60, f"t{i}") for i in range(3)] == [0, 0, 1.0]
    assert await counters.admit(["ip:1", "account:b"], [3, 2], 60, "t3") == 0
    assert await counters.admit(["ip:1", "account:c"], [3, 2], 60, "t4") == 1.0, "ip full"
    assert await counters.tally("ip:1", [60]) == [3]
    clock.now += 61
    assert await counters.admit(keys, limits, 60, "t5") == 0


async def test_discard_takes_an_attempt_back(counters):
    assert await counters.admit(["ip:1"], [1], 60, "t1") == 0
    assert await counters.admit(["ip:1"], [1], 60, "t2") == 1.0
    await counters.discard(["ip:1"], "t1")
    assert await counters.admit(["ip:1"], [1], 60, "t2") == 0
    await counters.discard(["ip:1", "never:seen"], "unknown-token")
    assert await counters.tally("ip:1", [60]) == [1]


async def test_tally_counts_each_window_and_forgets_after_a_day(counters, clock):
    for i in range(3):
        clock.now += 400 if i else 0
        await counters.admit(["ip:1"], [100], 600, f"a{i}")
    assert await counters.tally("ip:1", [600, 86400]) == [2, 3]
    clock.now += 86400
    assert await counters.tally("ip:1", [600, 86400]) == [0, 0]


async def test_distinct_members_inside_the_window(counters, clock):
    assert [await counters.distinct("accounts:ip:1", m, 100) for m in "abca"] == [1, 2, 3, 3]
    clock.now += 60
    assert await counters.distinct("accounts:ip:1", "d", 100) == 4
    clock.now += 50
    assert await counters.distinct("accounts:ip:1", "e", 100) == 2, "a, b, c aged out"


async def test_blocks_escalate_hold_and_strikes_are_forgotten(counters, clock):
    steps = [10.0, 100.0]
    assert await counters.block("ip:1", steps) == Block(1, 10.0)
    assert await counters.admit(["ip:1"], [5], 60, "t") == pytest.approx(10.0)
    second = await counters.block("ip:1", steps)
    assert second.strike == 0 and second.seconds == pytest.approx(10.0), "already blocked"
    clock.now += 11
    assert await counters.admit(["ip:1", "account:x"], [5, 5], 60, "t") == 0
    assert await counters.block("ip:1", steps) == Block(2, 100.0)
    clock.now += 101
    assert await counters.block("ip:1", steps) == Block(3, 100.0)
    clock.now += 100 + 86400 + 1
    assert await counters.block("ip:1", steps) == Block(1, 10.0), "strikes forgotten"


async def test_concurrent_admits_never_overshoot(counters):
    results = await asyncio.gather(*(counters.admit(["ip:9"], [20], 600, f"t{i}")
                                     for i in range(200)))
    assert sum(1 for wait in results if wait == 0) == 20


async def test_redis_keys_are_prefixed_and_expire(redis_url, redis_prefix):
    client = aioredis.Redis.from_url(redis_url)
    counters = RedisCounters(client, redis_prefix)
    await counters.admit(["ip:1"], [5], 600, "t")
    await counters.add("user:u", 3, 3600)
    await counters.distinct("accounts:ip:1", "m", 600)
    await counters.block("ip:1", [60.0])
    keys = [key.decode() async for key in client.scan_iter(match=redis_prefix + "*")]
    assert len(keys) == 6 and all(key.startswith(redis_prefix) for key in keys)
    for key in keys:
        assert 0 < await client.pttl(key) <= (86400 + 60) * 1000, key
    other = await client.keys("ip:1*")
    assert other == []
    await counters.close()


async def test_redis_down_raises_fast():
    counters = RedisCounters.from_url("redis://127.0.0.1:1/0", "x:", timeout=0.5)
    with pytest.raises(Exception) as info:
        await counters.admit(["ip:1"], [5], 600, "t")
    assert "connect" in type(info.value).__name__.lower() or "connect" in str(info.value).lower()
    await counters.close()
