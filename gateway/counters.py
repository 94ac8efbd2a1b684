"""Sliding-window counters behind one small interface: in memory, or shared in Redis.

``add(key, amount, window)`` records ``amount`` at now and returns the sum inside the
window ending now. Keys are never raw PII (callers pass fingerprints or IPs).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

__all__ = ["Counters", "MemoryCounters"]


class Counters(Protocol):
    async def add(self, key: str, amount: int, window: float) -> int: ...


class MemoryCounters:
    """Per-process counters (the embedded default)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._events: dict[str, deque[tuple[float, int]]] = {}
        self._sums: dict[str, int] = {}

    async def add(self, key: str, amount: int, window: float) -> int:
        now = self._clock()
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= self._max_keys:
                self._forget(now, window)
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

    def _forget(self, now: float, window: float) -> None:
        for key in [k for k, ev in self._events.items() if not ev or ev[-1][0] <= now - window]:
            del self._events[key]
            del self._sums[key]
