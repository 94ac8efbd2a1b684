"""Per-user records per day, and an incident when a day is far above the user's baseline.

The export guard calls :meth:`VolumeBaseline.observe` for every response that carried
customer records. Totals are buffered in memory and added to ``volume_daily`` (one row
per user pseudonym and UTC day, shared by every replica) at most every
``flush_seconds``. After each flush, today's total of each user is compared with the
previous ``days`` days (days without a row count as 0): above
``max(min_records, median + k · 1.4826 · MAD)`` it raises one ``volume_anomaly`` incident
per user and day. It never blocks. A failed write keeps the counts for the next flush.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from reports.database import Database
from reports.incident import IncidentEvent, IncidentSink

__all__ = ["BaselineSettings", "DailyVolume", "VolumeBaseline", "volume_threshold"]

log = logging.getLogger("dlpgw.volume")

_DAY = 86400
_MAD_SCALE = 1.4826
_TABLE = sa.table("volume_daily", sa.column("user_fp"), sa.column("day"), sa.column("records"))


@dataclass(frozen=True, slots=True)
class BaselineSettings:
    days: int = 14
    k: float = 6.0
    min_records: int = 1000
    flush_seconds: float = 5.0


def volume_threshold(history: Sequence[int], settings: BaselineSettings) -> float:
    """The most records a day may hold before it counts as an anomaly."""
    if not history:
        return float(settings.min_records)
    median = statistics.median(history)
    mad = statistics.median(abs(x - median) for x in history)
    return max(float(settings.min_records), median + settings.k * _MAD_SCALE * mad)


class DailyVolume:
    """The ``volume_daily`` table (synchronous)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, day: int, amounts: Mapping[str, int]) -> dict[str, int]:
        """Add each user's records to ``day``; return the new totals."""
        dialect = postgresql if self._db.is_postgresql else sqlite
        totals: dict[str, int] = {}
        with self._db.begin() as conn:
            for user_fp, amount in sorted(amounts.items()):
                insert = dialect.insert(_TABLE).values(user_fp=user_fp, day=day, records=amount)
                upsert = insert.on_conflict_do_update(
                    index_elements=["user_fp", "day"],
                    set_={"records": _TABLE.c.records + insert.excluded.records},
                ).returning(_TABLE.c.records)
                totals[user_fp] = int(conn.execute(upsert).scalar_one())
        return totals

    def history(self, user_fp: str, day: int, days: int) -> list[int]:
        """The ``days`` days before ``day``, oldest first, 0 where nothing was recorded."""
        query = sa.select(_TABLE.c.day, _TABLE.c.records).where(
            _TABLE.c.user_fp == user_fp, _TABLE.c.day >= day - days, _TABLE.c.day < day)
        with self._db.read() as conn:
            found = {int(d): int(r) for d, r in conn.execute(query)}
        return [found.get(d, 0) for d in range(day - days, day)]


class VolumeBaseline:
    def __init__(self, store: DailyVolume, settings: BaselineSettings,
                 sink: IncidentSink | None, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._settings = settings
        self._sink = sink
        self._clock = clock
        self._pending: Counter[tuple[str, int]] = Counter()
        self._where: dict[str, tuple[str | None, str | None]] = {}
        self._history: dict[tuple[str, int], float] = {}
        self._reported: set[tuple[str, int]] = set()
        self._last_flush = clock()
        self._task: asyncio.Task[None] | None = None

    def observe(self, user_fp: str, records: int, route: str | None,
                tenant: str | None) -> None:
        """Count ``records`` for today; starts a flush in the background when one is due."""
        if records <= 0:
            return
        now = self._clock()
        self._pending[(user_fp, int(now // _DAY))] += records
        self._where[user_fp] = (route, tenant)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush_while_pending())

    async def _flush_while_pending(self) -> None:
        while self._pending:
            wait = self._last_flush + self._settings.flush_seconds - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
            await self.flush()

    async def flush(self) -> list[IncidentEvent]:
        """Write the buffered totals; return (and report) the anomalies found."""
        self._last_flush = self._clock()
        self._forget(int(self._last_flush // _DAY))
        pending, self._pending = self._pending, Counter()
        events: list[IncidentEvent] = []
        for day in sorted({d for _, d in pending}):
            amounts = {user: n for (user, d), n in pending.items() if d == day}
            try:
                totals = await asyncio.to_thread(self._store.add, day, amounts)
            except Exception as exc:
                log.error("volume totals not stored (%s); kept for the next flush",
                          type(exc).__name__)
                self._pending.update({(u, day): n for u, n in amounts.items()})
                continue
            for user_fp, total in totals.items():
                try:
                    event = await self._check(user_fp, day, total)
                except Exception as exc:
                    log.error("volume baseline not read: %s", type(exc).__name__)
                    continue
                if event is not None:
                    events.append(event)
        for event in events:
            await self._report(event)
        return events

    def _forget(self, today: int) -> None:
        self._history = {key: v for key, v in self._history.items() if key[1] >= today - 1}
        self._reported = {key for key in self._reported if key[1] >= today - 1}

    async def _check(self, user_fp: str, day: int, total: int) -> IncidentEvent | None:
        if (user_fp, day) in self._reported:
            return None
        limit = self._history.get((user_fp, day))
        if limit is None:
            history = await asyncio.to_thread(self._store.history, user_fp, day,
                                              self._settings.days)
            limit = self._history[(user_fp, day)] = volume_threshold(history, self._settings)
        if total <= limit:
            return None
        self._reported.add((user_fp, day))
        route, tenant = self._where.get(user_fp, (None, None))
        return IncidentEvent(
            kind="volume_anomaly", severity="high" if total > 10 * limit else "medium",
            rule="volume_baseline", dedup_key=f"volume_anomaly:{user_fp}:{day}",
            summary=f"a user received {total} customer records today, above their baseline "
                    f"of {limit:.0f} ({self._settings.days}-day median + "
                    f"{self._settings.k:g} MAD)",
            route=route, tenant=tenant, actor=user_fp, record_count=total,
            detail={"threshold": f"{limit:.0f}", "day": str(day)})

    async def _report(self, event: IncidentEvent) -> None:
        if self._sink is None:
            return
        try:
            await self._sink.report(event)
        except Exception as exc:
            log.error("volume incident not recorded: %s", type(exc).__name__)

    async def close(self) -> None:
        """Stop the background flushing and write what is left (one attempt)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._pending:
            await self.flush()
