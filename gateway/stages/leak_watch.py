"""Personal data in a response whose route is declared to carry none becomes an incident.

Reads: the route's ``inspection.expect_pii`` setting and pii_mask's scan report
(``ex.metadata["pii"]``; for streamed bodies, once the stream has finished). Writes: an
``IncidentEvent(kind="leak_detected")`` with the categories, counts, field paths, masked
previews and fingerprints — never the values. Denies: never (pii_mask has already masked
what it found, which is recorded as the containment).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from detectors.finding import ScanReport
from gateway.exchange import Exchange
from reports.categories import category_of
from reports.incident import IncidentEvent, IncidentSink

__all__ = ["LeakWatchStage"]

log = logging.getLogger("dlpgw.leak_watch")
_EVIDENCE = 5


class LeakWatchStage:
    name = "leak_watch"
    critical = False

    def __init__(self, incidents: IncidentSink | None, expect_pii: Mapping[str, bool]) -> None:
        self._incidents = incidents
        self._expect = expect_pii
        self._tasks: set[asyncio.Task[None]] = set()

    async def on_request(self, ex: Exchange) -> None:
        if self._incidents is not None and not self._expect.get(ex.route, True):
            ex.add_done_callback(self._done)

    async def on_response(self, ex: Exchange) -> None:
        return None

    def _done(self, ex: Exchange) -> None:
        report = ex.metadata.get("pii")
        if not isinstance(report, ScanReport) or not report.total or ex.aborted:
            return
        task = asyncio.get_running_loop().create_task(self._report(ex, report))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _report(self, ex: Exchange, report: ScanReport) -> None:
        assert self._incidents is not None
        sensitive = any(category_of(e).pipl_sensitive for e in report.counts)
        evidence = {f"finding_{i}": f"{f.entity} at {f.location or f.start}: {f.preview} "
                                    f"({f.fingerprint})"
                    for i, f in enumerate(report.findings[:_EVIDENCE])}
        event = IncidentEvent(
            kind="leak_detected", severity="high" if sensitive else "medium",
            rule="pii_on_route_without_pii", dedup_key=f"leak_detected:{ex.route}",
            summary=f"{report.total} personal-data values in a response of route "
                    f"{ex.route}, which is declared to carry none",
            route=ex.route, upstream=ex.upstream or None,
            tenant=ex.metadata.get("tenant"), request_id=ex.request_id,
            categories=dict(report.counts), record_count=report.records,
            masked=True, containment="masked by the gateway before delivery",
            evidence=evidence, detail={"status": str(ex.status)})
        try:
            await self._incidents.report(event)
        except Exception as exc:
            log.error("leak incident not recorded: %s", type(exc).__name__)
