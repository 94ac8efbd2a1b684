"""Hot reload of the access policy: file changes (polled), SIGHUP, or an explicit call.

Two sources. By default the policy files are watched (mtimes polled every ``interval``).
With a ``PolicyStore`` (several replicas sharing PostgreSQL) the database is the source:
the newest pushed version's id is polled every ``interval`` (≤ 0.5 s by default), so every
replica runs a pushed policy within one interval plus a load. A policy that fails
validation is refused: the old one stays, an error is logged and
``dlpgw_policy_reload_failures_total`` counts it; a good one moves
``dlpgw_policy_last_reload_success_timestamp_seconds``. A database that cannot be read
keeps the running policy and counts a failure on every poll (a replica that cannot see
policy changes is a blind spot).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from gateway.metrics import GatewayMetrics
from gateway.policy_store import PolicyStore
from policies.access import AccessPolicy
from reports.database import DatabaseError

__all__ = ["PolicyWatcher"]

log = logging.getLogger("dlpgw.policy")

Stamp = tuple[object, ...]


class PolicyWatcher:
    def __init__(self, policy: AccessPolicy, metrics: GatewayMetrics,
                 interval: float = 2.0, store: PolicyStore | None = None) -> None:
        self._policy = policy
        self._metrics = metrics
        self._interval = interval
        self._store = store
        self._blind = False
        self._stamp: Stamp | None = None
        self._stamp = self._current()

    @classmethod
    def shared(cls, policy: AccessPolicy, metrics: GatewayMetrics, store: PolicyStore,
               interval: float = 0.5) -> PolicyWatcher:
        """Watch the database; seed it from the policy's files if it holds no policy yet.

        Raises ValueError when the stored policy is refused: a replica never starts on
        a policy other than the shared one.
        """
        if policy.files is not None:
            store.push(policy.files, "seed from files", only_if_empty=True)
        watcher = cls(policy, metrics, interval, store)
        ok, message = watcher.reload("start")
        if not ok:
            raise ValueError(f"policy: the shared policy was refused: {message}")
        return watcher

    @property
    def source(self) -> str:
        return "database" if self._store is not None else "files"

    def _current(self) -> Stamp | None:
        if self._store is None:
            return self._mtimes()
        try:
            head = self._store.head()
        except DatabaseError as exc:
            self._metrics.policy_reload_failures.inc()
            if not self._blind:
                log.error("policy database unreadable (%s): keeping policy %s",
                          type(exc).__name__, self._policy.version)
            self._blind = True
            return self._stamp
        if self._blind:
            log.info("policy database readable again")
        self._blind = False
        return head

    def _mtimes(self) -> Stamp:
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

    def _load(self) -> tuple[bool, str]:
        if self._store is None:
            return self._policy.reload()
        try:
            stored = self._store.latest()
        except DatabaseError as exc:
            return False, f"refused: the policy database is unreadable ({type(exc).__name__})"
        if stored is None:
            return False, "refused: the database holds no policy (run `dlp-gateway policy push`)"
        ok, message = stored.load_into(self._policy)
        return ok, f"{message} [database version {stored.id} by {stored.pushed_by}]"

    def reload(self, reason: str = "request") -> tuple[bool, str]:
        stamp = self._current()
        ok, message = self._load()
        if ok:
            self._metrics.policy_reload.set_to_current_time()
            log.info("policy reload (%s): %s", reason, message)
        else:
            self._metrics.policy_reload_failures.inc()
            log.error("policy reload (%s) refused: %s", reason, message)
        self._stamp = stamp
        return ok, message

    def check(self) -> bool:
        """Reload if the policy files (or the newest stored version) changed; True if it tried."""
        stamp = self._current()
        if stamp == self._stamp:
            return False
        self.reload("database changed" if self._store is not None else "file changed")
        return True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await asyncio.to_thread(self.check)
