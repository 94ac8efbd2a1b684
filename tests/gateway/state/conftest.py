"""Counters on both backends: this process's memory and a real Redis (unique key prefix)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from gateway.counters import Counters, MemoryCounters
from gateway.counters_redis import RedisCounters
from tests.conftest import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A fresh key prefix; every key under it is deleted afterwards."""
    prefix = f"dlpgw-test-{secrets.token_hex(4)}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()


@pytest.fixture(params=["memory", "redis"])
async def counters(request: pytest.FixtureRequest, clock: Clock) -> AsyncIterator[Counters]:
    """The same tests against both implementations, on the same fake clock."""
    if request.param == "memory":
        yield MemoryCounters(clock)
        return
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    redis_counters = RedisCounters.from_url(url, prefix, clock=clock)
    yield redis_counters
    await redis_counters.close()
