"""The incident sink the pipeline and stages report to: group commit, off the event loop.

``report`` returns once the event is stored (so an acknowledged incident survives a
crash), but concurrent reports share one write: events with the same ``dedup_key`` that
arrive while a batch is being written are folded into one ``record(event, count)``. A
100,000-event attack costs a handful of transactions, not 100,000. A failed write raises
``IncidentError`` to every waiting reporter and is counted by the ``on_failure`` hook.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from reports.incident import SEVERITIES, Incident, IncidentEvent
from reports.incident_store import IncidentError, IncidentStore

__all__ = ["IncidentRecorder", "RecorderHooks"]

log = logging.getLogger("dlpgw.incidents")


@dataclass(frozen=True, slots=True)
class RecorderHooks:
    """Called on the event loop: ``on_recorded(incident, created, count)`` after each write;
    ``on_failure(kind)`` (from the writer thread) when a write fails."""

    on_recorded: Callable[[Incident, bool, int], None] | None = None
    on_failure: Callable[[str], None] | None = None


@dataclass(slots=True)
class _Pending:
    event: IncidentEvent
    count: int = 1
    waiters: list[asyncio.Future[None]] = field(default_factory=list)

    def fold(self, event: IncidentEvent) -> None:
        cur = self.event
        counts = dict(cur.categories)
        for entity, n in event.categories.items():
            counts[entity] = max(counts.get(entity, 0), n)
        worse = max(cur.severity, event.severity, key=SEVERITIES.index)
        self.event = replace(cur, categories=counts, severity=worse,
                             record_count=max(cur.record_count, event.record_count),
                             subject_count=max(cur.subject_count, event.subject_count))
        self.count += 1


class IncidentRecorder:
    def __init__(self, store: IncidentStore, hooks: RecorderHooks | None = None) -> None:
        self._store = store
        self._hooks = hooks or RecorderHooks()
        self._pending: dict[str, _Pending] = {}
        self._writer: asyncio.Task[None] | None = None

    @property
    def hooks(self) -> RecorderHooks:
        return self._hooks

    async def report(self, event: IncidentEvent) -> None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        pending = self._pending.get(event.dedup_key)
        if pending is None:
            self._pending[event.dedup_key] = _Pending(event, waiters=[waiter])
        else:
            pending.fold(event)
            pending.waiters.append(waiter)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        await asyncio.shield(waiter)

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, {}
            results = await asyncio.to_thread(self._write, list(batch.values()))
            for pending, result in zip(batch.values(), results, strict=True):
                error = result if isinstance(result, IncidentError) else None
                if error is None and self._hooks.on_recorded:
                    assert not isinstance(result, IncidentError)
                    self._hooks.on_recorded(result[0], result[1], pending.count)
                for waiter in pending.waiters:
                    if waiter.done():
                        continue
                    if error is None:
                        waiter.set_result(None)
                    else:
                        waiter.set_exception(error)

    def _write(self, batch: list[_Pending]) -> list[IncidentError | tuple[Incident, bool]]:
        results: list[IncidentError | tuple[Incident, bool]] = []
        for pending in batch:
            try:
                incident, created = self._store.record(pending.event, pending.count)
            except Exception as exc:
                # The event's fields are PII-free by contract; the exception text may not be.
                log.error("incident write failed for %s: %s", pending.event.kind,
                          type(exc).__name__)
                if self._hooks.on_failure:
                    self._hooks.on_failure(pending.event.kind)
                results.append(IncidentError("store_failed", "the incident store failed"))
                continue
            results.append((incident, created))
        return results

    async def close(self) -> None:
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
