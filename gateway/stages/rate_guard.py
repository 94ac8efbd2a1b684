"""Brute-force guard on login routes: sliding windows, escalating bans, 429s.

Reads: the client IP, the login form's account name (the request body is buffered for
login routes only), the upstream's answer. Writes: failure marks, distinct-account sets
and bans in ``Counters`` (this process's memory, or Redis shared by every replica), a
``brute_force`` incident (deduplicated per IP; account fingerprints only) when a ban starts
and for every attempt refused during a ban (one incident, its counter grows).
Denies: 429 with ``Retry-After`` while the IP or the account is banned, or while their
window is already full of attempts (the upstream is not called). A ban starts when the
failures of an IP or an account in the window, the IP's failures today, or the distinct
accounts an IP tried cross their limits; each new ban of the same key lasts longer.
An attempt counts as a failure from the moment it is let through until the upstream says
it succeeded, so concurrent attempts on any replica can never overshoot the limit.
A counters failure (Redis down) raises: the pipeline answers 503 and records a
``fail_closed`` incident (the stage is critical).
"""

from __future__ import annotations

import logging
import math
import secrets
from urllib.parse import parse_qs

from detectors.fingerprint import Fingerprinter
from gateway.counters import DAY, Counters, MemoryCounters
from gateway.exchange import Exchange
from gateway.metrics import GatewayMetrics
from gateway.rate_config import LoginRoute, RateGuardConfig
from reports.incident import IncidentEvent, IncidentSink

__all__ = ["RateGuardStage"]

log = logging.getLogger("dlpgw.rate_guard")


class RateGuardStage:
    name = "rate_guard"
    critical = True

    def __init__(self, config: RateGuardConfig, metrics: GatewayMetrics,
                 fingerprinter: Fingerprinter, counters: Counters | None = None,
                 incidents: IncidentSink | None = None) -> None:
        self._config = config
        self._metrics = metrics
        self._fp = fingerprinter
        self._counters: Counters = counters if counters is not None else MemoryCounters()
        self._incidents = incidents

    def _route(self, ex: Exchange) -> LoginRoute | None:
        for route in self._config.login_routes:
            if route.path == ex.request.path and route.method == ex.request.method:
                return route
        return None

    def _limit(self, key: str) -> int:
        return (self._config.max_failures_per_ip if key.startswith("ip:")
                else self._config.max_failures_per_account)

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
        token = secrets.token_hex(8)
        wait = await self._counters.admit(
            keys, [self._limit(key) for key in keys], self._config.window_seconds, token)
        if wait > 0:
            self._metrics.bruteforce_blocks.inc()
            retry = max(1, math.ceil(wait))
            ex.deny(429, "too many failed logins; try again later", code="rate_limited",
                    stage=self.name, extra={"retry_after": retry})
            assert ex.response is not None
            ex.response.headers["Retry-After"] = str(retry)
            await self._refused(ex)
            return
        ex.metadata["rate_attempt"] = (keys, token)

    async def _refused(self, ex: Exchange) -> None:
        """Each refused attempt counts on the IP's one incident (folded by the recorder)."""
        if self._incidents is None:
            return
        ip = ex.request.client_ip
        try:
            await self._incidents.report(IncidentEvent(
                kind="brute_force", severity="medium", rule="rate_guard.refused_attempt",
                dedup_key=f"brute_force:{ip}",
                summary="login attempts refused during a brute-force ban", route=ex.route,
                client_ip=ip, request_id=ex.request_id))
        except Exception as exc:  # the refusal holds; only the record is missing
            log.error("brute-force incident not recorded: %s", type(exc).__name__)

    async def on_response(self, ex: Exchange) -> None:
        attempt = ex.metadata.get("rate_attempt")
        if not attempt or ex.response is None:
            return
        keys, token = attempt
        failed = ex.denial is not None or ex.response.status in self._config.failure_statuses
        if not failed:
            await self._counters.discard(keys, token)
            return
        over: dict[str, str] = {}
        for key in keys:
            window, today = await self._counters.tally(
                key, (self._config.window_seconds, DAY))
            if window >= self._limit(key):
                over[key] = "failures_in_window"
            elif key.startswith("ip:") and today > self._config.daily_cap_per_ip:
                over[key] = "daily_cap"
        ip_key = keys[0]
        if len(keys) > 1:
            tried = await self._counters.distinct(
                "accounts:" + ip_key, keys[1], DAY)
            if tried > self._config.max_accounts_per_ip and ip_key not in over:
                over[ip_key] = "distinct_accounts"
        for key, rule in over.items():
            await self._ban(ex, key, rule)

    async def _ban(self, ex: Exchange, key: str, rule: str) -> None:
        block = await self._counters.block(key, self._config.ban_seconds)
        if not block.strike:
            return
        self._metrics.bruteforce_bans.inc()
        # The key is an IP or an account fingerprint: never the account name itself.
        log.warning("brute-force ban %s for %.0f s (strike %d, %s)", key, block.seconds,
                    block.strike, rule)
        if self._incidents is None:
            return
        ip = ex.request.client_ip
        detail = {"key": key.split(":", 1)[0], "strike": str(block.strike),
                  "ban_seconds": f"{block.seconds:.0f}"}
        if key.startswith("account:"):
            detail["account_fp"] = key.split(":", 1)[1]
        try:
            await self._incidents.report(IncidentEvent(
                kind="brute_force", severity="high" if block.strike > 1 else "medium",
                rule=f"rate_guard.{rule}", dedup_key=f"brute_force:{ip}",
                summary=f"failed logins crossed the {rule.replace('_', ' ')} limit; "
                        f"{detail['key']} banned for {detail['ban_seconds']} s",
                route=ex.route, client_ip=ip, request_id=ex.request_id,
                containment=f"{detail['key']} banned for {detail['ban_seconds']} s",
                detail=detail))
        except Exception as exc:  # the ban holds; only the record is missing
            log.error("brute-force incident not recorded: %s", type(exc).__name__)
