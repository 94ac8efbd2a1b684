"""What the export guard keeps about exports: window totals, daily volume, traces, incidents.

Each part is optional (None: off). ``counters`` holds each user's sliding-window total
of records returned (key: the user's pseudonym); ``baseline`` their daily totals;
``traces`` one row per approved export with its watermark id; ``incidents`` receives an
``export_blocked`` event per refused export. ``watermark_secret`` derives the per-export
key that pii_mask's watermark uses.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass

from detectors.finding import ScanReport
from detectors.formats.detect import charset_of, detect_format
from detectors.watermark import alt_glyph, export_key
from gateway.counters import Counters
from gateway.exchange import Exchange
from reports.export_trace import ExportTrace, ExportTraceStore
from reports.incident import IncidentEvent, IncidentSink, Severity
from reports.volume import VolumeBaseline

__all__ = ["ExportTracking", "blocked_export_event", "records_of", "severity_of"]

log = logging.getLogger("dlpgw.export_guard")

_SEVERITY_STEPS: tuple[tuple[int, Severity], ...] = (
    (100, "low"), (1_000, "medium"), (100_000, "high"))


def records_of(ex: Exchange) -> tuple[int, bool]:
    """Records returned, and whether they carried personal data (customer records)."""
    report = ex.metadata.get("pii")
    if not isinstance(report, ScanReport):
        return 0, False
    return report.records, report.total > 0


def severity_of(records: int) -> Severity:
    for limit, severity in _SEVERITY_STEPS:
        if records <= limit:
            return severity
    return "critical"


def blocked_export_event(ex: Exchange, why: tuple[str, str], records: int,
                         fingerprints: tuple[str, str]) -> IncidentEvent:
    """The incident of one refused export; ``why`` is (rule, cause), ``fingerprints``
    (user pseudonym, request fingerprint)."""
    (rule, cause), (user_fp, request_fp) = why, fingerprints
    report = ex.metadata.get("pii")
    categories = dict(report.counts) if isinstance(report, ScanReport) else {}
    tenant = ex.metadata.get("tenant")
    return IncidentEvent(
        kind="export_blocked", severity=severity_of(records), rule=rule,
        dedup_key=f"export_blocked:{user_fp}:{ex.route}",
        summary=f"an export of {records} records ({rule}) was refused: {cause}",
        route=ex.route, upstream=ex.upstream or None,
        tenant=tenant if isinstance(tenant, str) else None, actor=user_fp,
        client_ip=ex.request.client_ip or None, request_id=ex.request_id,
        categories=categories, record_count=records,
        evidence={"request_fingerprint": request_fp},
        containment="response withheld (403), the body was never sent",
        detail={"cause": cause, "stage": "export_guard"})


@dataclass(frozen=True, slots=True)
class ExportTracking:
    counters: Counters | None = None
    traces: ExportTraceStore | None = None
    baseline: VolumeBaseline | None = None
    incidents: IncidentSink | None = None
    watermark_secret: bytes | None = None

    def issue_watermark(self, ex: Exchange) -> None:
        """A fresh watermark id and key for an export attempt (used only if approved)."""
        if self.watermark_secret is None:
            return
        watermark_id = "wm-" + secrets.token_hex(10)
        ex.metadata["watermark_id"] = watermark_id
        ex.metadata["watermark_key"] = export_key(self.watermark_secret, watermark_id)

    async def over_window(self, ex: Exchange, user_fp: str, limit: int | None,
                          window: float) -> bool:
        """True when this response would take the user past ``limit`` records in the
        window; otherwise its records are counted. One atomic add (replicas racing on one
        user cannot both slip under the limit); a refused response takes its records back.
        """
        records, personal = records_of(ex)
        if self.counters is None or limit is None or not personal or not records:
            return False
        key = f"export_window:{user_fp}"
        if await self.counters.add(key, records, window) <= limit:
            return False
        await self.counters.add(key, -records, window)
        return True

    def delivered(self, ex: Exchange, user_fp: str | None) -> None:
        """Count the records of a response that goes out (streams: once fully sent)."""
        if self.baseline is None or user_fp is None:
            return
        records, personal = records_of(ex)
        if personal:
            self.baseline.observe(user_fp, records, ex.route, ex.metadata.get("tenant"))
        elif ex.response is not None and ex.response.stream is not None:
            ex.add_done_callback(lambda done: self._after_stream(done, user_fp))

    def _after_stream(self, ex: Exchange, user_fp: str) -> None:
        records, personal = records_of(ex)
        if personal and ex.aborted is None and self.baseline is not None:
            self.baseline.observe(user_fp, records, ex.route, ex.metadata.get("tenant"))

    async def record_trace(self, ex: Exchange, approval_id: str, user_fp: str,
                           records: int) -> bool:
        """Store the approved export's trace row (raises if the store fails); False when
        the export cannot carry a watermark (pii_mask off, or no look-alike glyph)."""
        watermark_id = ex.metadata.get("watermark_id")
        if not isinstance(watermark_id, str) or self.traces is None or ex.response is None:
            return self.watermark_secret is None
        headers = ex.response.headers
        fmt = detect_format(headers.get("Content-Type"), headers.get("Content-Disposition"))
        tenant = ex.metadata.get("tenant")
        trace = ExportTrace(watermark_id, approval_id, user_fp,
                            tenant if isinstance(tenant, str) else None, ex.route,
                            ex.request.method, ex.request.path, fmt or "unknown", records,
                            time.time())
        await asyncio.to_thread(self.traces.record, trace)
        return "pii" in ex.metadata and alt_glyph(charset_of(headers.get("Content-Type"))) \
            is not None

    async def report_blocked(self, ex: Exchange, why: tuple[str, str], records: int,
                             fingerprints: tuple[str, str]) -> None:
        if self.incidents is None:
            return
        try:
            await self.incidents.report(blocked_export_event(ex, why, records, fingerprints))
        except Exception as exc:
            log.error("export_blocked incident not recorded: %s", type(exc).__name__)
