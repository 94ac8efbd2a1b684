"""Sliding-window counters behind one small interface: in memory, or shared in Redis.

Keys are never raw PII (callers pass fingerprints or IPs). Every operation is atomic: in
memory because nothing awaits inside it, in Redis because each one is a single Lua script
(``gateway.counters_redis``). Three kinds of state:

* sums: ``add(key, amount, window)`` records ``amount`` now and returns the sum inside the
  window ending now (per-user export volume). A key is always used with one window.
* marks: one entry per attempt, kept ``retain`` seconds. ``admit`` records a mark under
  several keys at once unless one of them is blocked or already holds its limit of marks
  inside the window; ``discard`` takes a mark back; ``tally`` counts marks per window;
  ``distinct`` counts the different members seen under a key inside a window.
* blocks: ``block`` starts a block unless one is running; each new block of a key is a
  strike and lasts the next of the given durations. Strikes are forgotten ``retain``
  seconds after the last block ended.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["DAY", "Block", "Counters", "MemoryCounters"]

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Block:
    """The outcome of ``block``: ``strike`` 0 means a block was already running."""

    strike: int
    seconds: float


class Counters(Protocol):
    async def add(self, key: str, amount: int, window: float) -> int: ...

    async def admit(self, keys: Sequence[str], limits: Sequence[int], window: float,
                    token: str) -> float:
        """Mark ``token`` under every key and return 0.0, or return the seconds to wait."""
        ...

    async def discard(self, keys: Sequence[str], token: str) -> None: ...

    async def tally(self, key: str, windows: Sequence[float]) -> list[int]: ...

    async def distinct(self, key: str, member: str, window: float) -> int: ...

    async def block(self, key: str, durations: Sequence[float]) -> Block: ...

    async def close(self) -> None: ...


class MemoryCounters:
    """Per-process counters (the embedded default)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000, retain: float = DAY) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._retain = retain
        self._events: dict[str, deque[tuple[float, int]]] = {}
        self._sums: dict[str, int] = {}
        self._marks: dict[str, dict[str, float]] = {}
        self._members: dict[str, dict[str, float]] = {}
        self._blocks: dict[str, float] = {}
        self._strikes: dict[str, tuple[int, float]] = {}

    async def close(self) -> None:
        return None

    async def add(self, key: str, amount: int, window: float) -> int:
        now = self._clock()
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= self._max_keys:
                self._forget_sums(now, window)
            events = self._events[key] = deque()
            self._sums[key] = 0
        total = self._sums[key]
        while events and events[0][0] <= now - window:
            total -= events.popleft()[1]
        if amount:
            events.append((now, amount))
            total += amount
        self._sums[key] = total
        return total

    def _forget_sums(self, now: float, window: float) -> None:
        for key in [k for k, ev in self._events.items() if not ev or ev[-1][0] <= now - window]:
            del self._events[key]
            del self._sums[key]

    def _pruned(self, key: str, now: float) -> dict[str, float]:
        marks = self._marks.get(key)
        if marks is None:
            if len(self._marks) >= self._max_keys:
                self._forget_marks(now)
            marks = self._marks[key] = {}
        stale = [token for token, at in marks.items() if at <= now - self._retain]
        for token in stale:
            del marks[token]
        return marks

    def _forget_marks(self, now: float) -> None:
        horizon = now - self._retain
        for store in (self._marks, self._members):
            for key in [k for k, m in store.items() if max(m.values(), default=0) <= horizon]:
                del store[key]
        for key in [k for k, until in self._blocks.items() if until <= now]:
            del self._blocks[key]

    async def admit(self, keys: Sequence[str], limits: Sequence[int], window: float,
                    token: str) -> float:
        now = self._clock()
        wait = max((self._blocks.get(key, 0.0) - now for key in keys), default=0.0)
        if wait > 0:
            return wait
        marks = [self._pruned(key, now) for key in keys]
        for found, limit in zip(marks, limits, strict=True):
            if sum(1 for at in found.values() if at > now - window) >= limit:
                return 1.0
        for found in marks:
            found[token] = now
        return 0.0

    async def discard(self, keys: Sequence[str], token: str) -> None:
        for key in keys:
            self._marks.get(key, {}).pop(token, None)

    async def tally(self, key: str, windows: Sequence[float]) -> list[int]:
        now = self._clock()
        marks = self._pruned(key, now)
        return [sum(1 for at in marks.values() if at > now - window) for window in windows]

    async def distinct(self, key: str, member: str, window: float) -> int:
        now = self._clock()
        members = self._members.setdefault(key, {})
        members[member] = now
        for stale in [m for m, at in members.items() if at <= now - window]:
            del members[stale]
        return len(members)

    async def block(self, key: str, durations: Sequence[float]) -> Block:
        now = self._clock()
        until = self._blocks.get(key, 0.0)
        if until > now:
            return Block(0, until - now)
        strikes, last_end = self._strikes.get(key, (0, 0.0))
        if last_end and now - last_end > self._retain:
            strikes = 0
        seconds = durations[min(strikes, len(durations) - 1)]
        self._blocks[key] = now + seconds
        self._strikes[key] = (strikes + 1, now + seconds)
        return Block(strikes + 1, seconds)
