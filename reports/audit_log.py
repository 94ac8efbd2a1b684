"""The audit log writer: cheap appends on the caller's thread, batched commits on its own.

``append`` stamps the time and puts the entry on a queue (no I/O, no serialisation);
one writer thread drains the queue and commits each batch in one transaction, chained
after the head it locks (see ``reports.audit_store``). ``append_durable`` returns the
entry's ``seq`` only once that transaction has committed; admin and approval actions,
policy reloads and incident changes use it. The writer also signs a checkpoint every
``checkpoint_seconds`` or ``checkpoint_entries`` committed entries, and once more at
``close``.

An entry is a dict with ``kind`` (or ``event``; default ``request``), optionally
``actor``, and any JSON-serialisable fields, which become the payload. The caller hands
the dict over: it must not change it afterwards. It must hold no raw PII (fingerprints,
counts, categories, masked previews only).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from reports.audit_chain import Signer, canonical, format_time
from reports.audit_store import PendingEntry, append_entries, write_checkpoint
from reports.database import Database

__all__ = ["AuditLog", "AuditMetrics", "AuditOptions", "AuditWriteError"]

log = logging.getLogger("dlpgw.audit")

_Item = tuple[float, dict[str, Any] | None, "Future[int] | None"]
_STOP: _Item = (0.0, None, None)
_RETRY_DELAYS = (0.05, 0.25, 1.0)


class _Counter(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class _Gauge(Protocol):
    def set(self, value: float) -> None: ...


class AuditMetrics(Protocol):
    @property
    def audit_write_failures(self) -> _Counter: ...

    @property
    def audit_checkpoint(self) -> _Gauge: ...


class AuditWriteError(Exception):
    """The entry could not be committed (the database refused it, or the log is closed)."""


@dataclass(frozen=True, slots=True)
class AuditOptions:
    checkpoint_seconds: float = 60.0
    checkpoint_entries: int = 10_000
    queue_max: int = 100_000
    batch_max: int = 2000
    linger_seconds: float = 0.02


class AuditLog:
    """One writer thread per process; several processes may share the database."""

    def __init__(self, db: Database, signer: Signer, metrics: AuditMetrics | None = None,
                 options: AuditOptions | None = None) -> None:
        self.db = db
        self.signer = signer
        self.options = options or AuditOptions()
        self.failures = 0
        self.retries = 0
        self._metrics = metrics
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._closed = False
        self._healthy = True
        self._since_checkpoint = 0
        self._last_error = -1.0
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def append(self, entry: dict[str, Any]) -> None:
        """Queue ``entry``; never blocks. A full queue or a closed log counts a failure."""
        if self._closed or self._queue.qsize() >= self.options.queue_max:
            self._fail(1, "queue full" if not self._closed else "log closed")
            return
        self._queue.put((time.time(), entry, None))

    def submit(self, entry: dict[str, Any] | None) -> Future[int]:
        """Queue ``entry`` and return a future for its ``seq`` (``None``: a flush barrier)."""
        future: Future[int] = Future()
        if self._closed:
            future.set_exception(AuditWriteError("the audit log is closed"))
            return future
        self._queue.put((time.time(), entry, future))
        return future

    def append_durable_sync(self, entry: dict[str, Any], timeout: float = 30.0) -> int:
        return self.submit(entry).result(timeout)

    async def append_durable(self, entry: dict[str, Any]) -> int:
        return await asyncio.wrap_future(self.submit(entry))

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until everything queued before this call is committed (or failed)."""
        self.submit(None).result(timeout)

    def healthy(self) -> bool:
        return self._healthy and self._thread.is_alive()

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued, sign a last checkpoint and stop the writer."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def checkpoint(self, reason: str = "periodic") -> None:
        """Sign the current head now (from any thread; the writer does it periodically)."""
        try:
            with self.db.begin() as conn:
                cp = write_checkpoint(conn, self.signer, format_time(time.time()), reason)
        except Exception as exc:
            self._fail(0, f"checkpoint: {type(exc).__name__}")
            return
        if cp is not None:
            log.debug("audit checkpoint at seq %d", cp.seq)
        if self._metrics is not None:
            self._metrics.audit_checkpoint.set(time.time())

    def _run(self) -> None:
        deadline = time.monotonic() + self.options.checkpoint_seconds
        stopping = False
        while not stopping:
            batch = self._take(deadline)
            stopping = any(item is _STOP for item in batch)
            try:
                self._commit([item for item in batch if item is not _STOP])
            except Exception as exc:  # a bug here must not kill the writer silently
                self._fail(len(batch), f"writer: {type(exc).__name__}")
                for _, _, future in batch:
                    if future is not None and not future.done():
                        future.set_exception(AuditWriteError("audit writer error"))
            due = time.monotonic() >= deadline
            if stopping or due or self._since_checkpoint >= self.options.checkpoint_entries:
                self.checkpoint()
                self._since_checkpoint = 0
                deadline = time.monotonic() + self.options.checkpoint_seconds

    def _take(self, deadline: float) -> list[_Item]:
        """The next batch. Request entries linger a little so that one transaction takes
        many (fewer commits, and less GIL traffic against the event loop); an entry that
        someone waits for (durable, flush, stop) is written at once."""
        batch: list[_Item] = []
        try:
            first = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            batch.append(first)
            if first is not _STOP and first[2] is None and self.options.linger_seconds:
                time.sleep(self.options.linger_seconds)
            while len(batch) < self.options.batch_max:
                batch.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        return batch

    def _prepare(self, batch: list[_Item]) -> tuple[list[PendingEntry], list[Future[int] | None]]:
        entries: list[PendingEntry] = []
        waiters: list[Future[int] | None] = []
        for at, entry, future in batch:
            if entry is None:
                continue
            try:
                pending = _pending(at, entry)
            except (TypeError, ValueError) as exc:
                self._fail(1, f"entry not serialisable: {type(exc).__name__}")
                if future is not None:
                    future.set_exception(AuditWriteError("entry is not JSON-serialisable"))
                continue
            entries.append(pending)
            waiters.append(future)
        return entries, waiters

    def _commit(self, batch: list[_Item]) -> None:
        entries, waiters = self._prepare(batch)
        barriers = [future for _, entry, future in batch if entry is None and future is not None]
        seqs = self._write(entries) if entries else []
        for index, future in enumerate(waiters):
            if future is None:
                continue
            if seqs:
                future.set_result(seqs[index])
            else:
                future.set_exception(AuditWriteError("the audit entry was not committed"))
        for future in barriers:
            future.set_result(0)

    def _write(self, entries: list[PendingEntry]) -> list[int]:
        for delay in (*_RETRY_DELAYS, None):
            try:
                with self.db.begin() as conn:
                    seqs = append_entries(conn, entries)
            except Exception as exc:
                if delay is None:
                    self._fail(len(entries), f"commit: {type(exc).__name__}")
                    return []
                self.retries += 1
                log.warning("audit commit failed (%s); retrying", type(exc).__name__)
                time.sleep(delay)
                continue
            self._healthy = True
            self._since_checkpoint += len(seqs)
            return seqs
        return []

    def _fail(self, count: int, why: str) -> None:
        self.failures += count
        self._healthy = False
        if self._metrics is not None and count:
            self._metrics.audit_write_failures.inc(count)
        now = time.monotonic()
        if now - self._last_error >= 1.0:  # one line a second, not one per dropped entry
            self._last_error = now
            log.error("audit write failed (%d entries, %d in all): %s", count,
                      self.failures, why)


def _pending(at: float, entry: dict[str, Any]) -> PendingEntry:
    kind = entry.pop("kind", None) or entry.pop("event", None) or "request"
    actor = entry.pop("actor", None)
    return PendingEntry(at=format_time(at), kind=str(kind),
                        actor=None if actor is None else str(actor), payload=canonical(entry))

