"""The ``Counters`` interface in Redis, shared by every gateway process and host.

Each operation is one Lua script, so it is atomic across processes: two hosts can never
both admit the twentieth attempt. Sliding windows are sorted sets scored by time (the
Redis server's ``TIME`` unless a clock is given, so hosts need not agree on the time);
sums keep a running total beside the set. Every key carries the configured prefix and
a TTL no longer than the data it holds is needed. Any Redis error propagates: the caller
fails closed.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import Any

import redis.asyncio as aioredis

from gateway.config import StoreConfig
from gateway.counters import DAY, Block, Counters, MemoryCounters

__all__ = ["RedisCounters", "open_counters"]

_NOW = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function f(x) return string.format('%.6f', x) end
"""

_ADD = _NOW + """
local amount, window = tonumber(ARGV[2]), tonumber(ARGV[3])
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', f(now - window))
local gone = 0
for _, member in ipairs(old) do gone = gone + tonumber(string.match(member, ':(-?%d+)$')) end
if #old > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', f(now - window))
  redis.call('DECRBY', KEYS[2], gone)
end
if amount ~= 0 then
  redis.call('ZADD', KEYS[1], now, ARGV[4] .. ':' .. amount)
  redis.call('INCRBY', KEYS[2], amount)
end
local ttl = math.ceil(window * 1000)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return tonumber(redis.call('GET', KEYS[2]) or '0')
"""

_ADMIT = _NOW + """
local window, retain, token = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local n = #KEYS / 2
local wait = 0
for i = 1, n do
  local untl = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  if untl - now > wait then wait = untl - now end
end
if wait > 0 then return f(wait) end
for i = 1, n do
  redis.call('ZREMRANGEBYSCORE', KEYS[2 * i - 1], '-inf', f(now - retain))
  local inside = redis.call('ZCOUNT', KEYS[2 * i - 1], '(' .. f(now - window), '+inf')
  if inside >= tonumber(ARGV[4 + i]) then return '1' end
end
for i = 1, n do
  redis.call('ZADD', KEYS[2 * i - 1], now, token)
  redis.call('PEXPIRE', KEYS[2 * i - 1], math.ceil(retain * 1000))
end
return '0'
"""

_TALLY = _NOW + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', f(now - tonumber(ARGV[2])))
local counts = {}
for i = 3, #ARGV do
  counts[#counts + 1] = redis.call('ZCOUNT', KEYS[1], '(' .. f(now - tonumber(ARGV[i])), '+inf')
end
return counts
"""

_DISTINCT = _NOW + """
local window = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', f(now - window))
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
return redis.call('ZCARD', KEYS[1])
"""

_BLOCK = _NOW + """
local retain = tonumber(ARGV[2])
local untl = tonumber(redis.call('GET', KEYS[1]) or '0')
if untl > now then return {0, f(untl - now)} end
local strikes = tonumber(redis.call('HGET', KEYS[2], 'n') or '0')
local last = tonumber(redis.call('HGET', KEYS[2], 'end') or '0')
if last > 0 and now - last > retain then strikes = 0 end
strikes = strikes + 1
local seconds = tonumber(ARGV[2 + math.min(strikes, #ARGV - 2)])
redis.call('SET', KEYS[1], f(now + seconds), 'PX', math.ceil(seconds * 1000))
redis.call('HSET', KEYS[2], 'n', strikes, 'end', f(now + seconds))
redis.call('PEXPIRE', KEYS[2], math.ceil((seconds + retain) * 1000))
return {strikes, f(seconds)}
"""


class RedisCounters:
    """Counters in one Redis database, every key under ``prefix``."""

    def __init__(self, client: aioredis.Redis, prefix: str = "dlpgw:",
                 retain: float = DAY, clock: Callable[[], float] | None = None) -> None:
        self._client = client
        self._prefix = prefix
        self._retain = retain
        self._clock = clock
        self._scripts = {name: client.register_script(body) for name, body in (
            ("add", _ADD), ("admit", _ADMIT), ("tally", _TALLY), ("distinct", _DISTINCT),
            ("block", _BLOCK))}

    @classmethod
    def from_url(cls, url: str, prefix: str = "dlpgw:", timeout: float = 1.0,
                 clock: Callable[[], float] | None = None) -> RedisCounters:
        """A pooled client: requests wait up to ``timeout`` for a free connection, and a
        dead Redis fails within ``timeout`` instead of hanging."""
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=64, timeout=timeout, socket_timeout=timeout,
            socket_connect_timeout=timeout)
        return cls(aioredis.Redis.from_pool(pool), prefix, clock=clock)

    async def close(self) -> None:
        await self._client.aclose()

    async def ping(self) -> bool:
        return bool(await self._client.ping())

    def _now(self) -> str:
        return "" if self._clock is None else repr(self._clock())

    async def _run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return await self._scripts[name](keys=list(keys), args=[self._now(), *args])

    async def add(self, key: str, amount: int, window: float) -> int:
        keys = (f"{self._prefix}sum:{key}", f"{self._prefix}total:{key}")
        return int(await self._run("add", keys, (int(amount), window, secrets.token_hex(8))))

    async def admit(self, keys: Sequence[str], limits: Sequence[int], window: float,
                    token: str) -> float:
        if len(keys) != len(limits):
            raise ValueError("one limit per key")
        names = [name for key in keys for name in (
            f"{self._prefix}marks:{key}", f"{self._prefix}block:{key}")]
        return float(await self._run("admit", names, (window, self._retain, token, *limits)))

    async def discard(self, keys: Sequence[str], token: str) -> None:
        async with self._client.pipeline(transaction=True) as pipe:
            for key in keys:
                pipe.zrem(f"{self._prefix}marks:{key}", token)
            await pipe.execute()

    async def tally(self, key: str, windows: Sequence[float]) -> list[int]:
        found = await self._run("tally", (f"{self._prefix}marks:{key}",),
                                (self._retain, *windows))
        return [int(count) for count in found]

    async def distinct(self, key: str, member: str, window: float) -> int:
        return int(await self._run("distinct", (f"{self._prefix}members:{key}",),
                                   (window, member)))

    async def block(self, key: str, durations: Sequence[float]) -> Block:
        if not durations:
            raise ValueError("at least one block duration")
        strike, seconds = await self._run(
            "block", (f"{self._prefix}block:{key}", f"{self._prefix}strikes:{key}"),
            (self._retain, *durations))
        return Block(int(strike), float(seconds))


def open_counters(store: StoreConfig) -> Counters:
    """The counters ``store.counters`` selects: this process's memory, or shared Redis."""
    if store.counters == "redis":
        return RedisCounters.from_url(store.redis_url, store.redis_prefix)
    return MemoryCounters()
