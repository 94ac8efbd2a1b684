"""Hot reload of the access policy: file changes (polled), SIGHUP, or an explicit call.

A policy that fails validation is refused: the old one stays, an error is logged and
``dlpgw_policy_reload_failures_total`` counts it; a good one moves
``dlpgw_policy_last_reload_success_timestamp_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from gateway.metrics import GatewayMetrics
from policies.access import AccessPolicy

__all__ = ["PolicyWatcher"]

log = logging.getLogger("dlpgw.policy")


class PolicyWatcher:
    def __init__(self, policy: AccessPolicy, metrics: GatewayMetrics,
                 interval: float = 2.0) -> None:
        self._policy = policy
        self._metrics = metrics
        self._interval = interval
        self._stamp = self._mtimes()

    def _mtimes(self) -> tuple[float, ...]:
        files = self._policy.files
        if files is None:
            return ()
        paths = [p for p in (files.model, files.policy, files.grouping) if p is not None]
        stamps = []
        for path in paths:
            try:
                stamps.append(Path(path).stat().st_mtime)
            except OSError:
                stamps.append(-1.0)
        return tuple(stamps)

    def reload(self, reason: str = "request") -> tuple[bool, str]:
        ok, message = self._policy.reload()
        if ok:
            self._metrics.policy_reload.set_to_current_time()
            log.info("policy reload (%s): %s", reason, message)
        else:
            self._metrics.policy_reload_failures.inc()
            log.error("policy reload (%s) refused: %s", reason, message)
        self._stamp = self._mtimes()
        return ok, message

    def check(self) -> bool:
        """Reload if a policy file changed since the last load; True if it tried."""
        stamp = self._mtimes()
        if stamp == self._stamp:
            return False
        self.reload("file changed")
        return True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await asyncio.to_thread(self.check)
