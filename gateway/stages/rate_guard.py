"""Brute-force guard on login routes: sliding windows, escalating bans, 429s.

Reads: the client IP, the login form's account name (the request body is buffered for
login routes only), the upstream's answer. Writes: failure counters, bans, a verdict.
Denies: 429 with ``Retry-After`` while the IP or the account is banned (the upstream is
not called). A ban starts when the failures of an IP or an account in the window, the
IP's failures today, or the distinct accounts an IP tried cross their limits; each new
ban of the same key lasts longer. Counters live in memory in this process (shared
counters in Redis are the multi-host work).
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable
from urllib.parse import parse_qs

from detectors.fingerprint import Fingerprinter
from gateway.exchange import Exchange
from gateway.metrics import GatewayMetrics
from gateway.rate_config import LoginRoute, RateGuardConfig

__all__ = ["RateGuardStage"]

log = logging.getLogger("dlpgw.rate_guard")
_DAY = 86400.0
_MAX_KEYS = 100_000


class RateGuardStage:
    name = "rate_guard"
    critical = True

    def __init__(self, config: RateGuardConfig, metrics: GatewayMetrics,
                 fingerprinter: Fingerprinter, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self._config = config
        self._metrics = metrics
        self._fp = fingerprinter
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._accounts: dict[str, dict[str, float]] = {}
        self._bans: dict[str, float] = {}
        self._strikes: dict[str, int] = {}

    def _route(self, ex: Exchange) -> LoginRoute | None:
        for route in self._config.login_routes:
            if route.path == ex.request.path and route.method == ex.request.method:
                return route
        return None

    async def on_request(self, ex: Exchange) -> None:
        route = self._route(ex)
        if route is None:
            return
        body = await ex.request.read()
        names = parse_qs(body.decode("utf-8", "replace")).get(route.username_field, [""])
        account = names[0].strip().lower()
        keys = ["ip:" + ex.request.client_ip]
        if account:
            keys.append("account:" + self._fp.fp(account))
        now = self._clock()
        wait = max((self._bans.get(key, 0.0) - now for key in keys), default=0.0)
        if wait <= 0 and any(self._count(key, now) >= self._limit(key) for key in keys):
            wait = 1.0  # attempts in flight already fill the window
        if wait > 0:
            self._metrics.bruteforce_blocks.inc()
            ex.deny(429, "too many failed logins; try again later", code="rate_limited",
                    stage=self.name, extra={"retry_after": math.ceil(wait)})
            assert ex.response is not None
            ex.response.headers["Retry-After"] = str(math.ceil(wait))
            return
        # Counted as a failure until the upstream says otherwise, so concurrent attempts
        # can never overshoot the limit.
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)
        ex.metadata["rate_attempt"] = (keys, now)

    async def on_response(self, ex: Exchange) -> None:
        attempt = ex.metadata.get("rate_attempt")
        if not attempt or ex.response is None:
            return
        keys, started = attempt
        failed = ex.denial is not None or ex.response.status in self._config.failure_statuses
        if not failed:
            for key in keys:
                self._failures[key].remove(started)
            return
        now = self._clock()
        if len(self._failures) > _MAX_KEYS:
            self._forget(now)
        over = [key for key in keys if self._over(key, now)]
        ip_key = keys[0]
        if len(keys) > 1:
            tried = self._accounts.setdefault(ip_key, {})
            tried[keys[1]] = now
            if len(tried) > self._config.max_accounts_per_ip and ip_key not in over:
                over.append(ip_key)
        for key in over:
            self._ban(key, now)

    def _limit(self, key: str) -> int:
        return (self._config.max_failures_per_ip if key.startswith("ip:")
                else self._config.max_failures_per_account)

    def _count(self, key: str, now: float) -> int:
        times = self._failures.get(key)
        if not times:
            return 0
        while times and times[0] <= now - _DAY:
            times.popleft()
        return sum(1 for t in times if t > now - self._config.window_seconds)

    def _over(self, key: str, now: float) -> bool:
        daily = key.startswith("ip:") and len(self._failures.get(key, ())) > (
            self._config.daily_cap_per_ip)
        return self._count(key, now) >= self._limit(key) or daily

    def _ban(self, key: str, now: float) -> None:
        strikes = self._strikes.get(key, 0)
        steps = self._config.ban_seconds
        duration = steps[min(strikes, len(steps) - 1)]
        self._strikes[key] = strikes + 1
        self._bans[key] = now + duration
        self._metrics.bruteforce_bans.inc()
        # The key is an IP or an account fingerprint: never the account name itself.
        log.warning("brute-force ban %s for %.0f s (strike %d)", key, duration, strikes + 1)

    def _forget(self, now: float) -> None:
        for key in [k for k, t in self._failures.items() if not t or t[-1] < now - _DAY]:
            self._failures.pop(key, None)
            self._accounts.pop(key, None)
