"""Block bulk exports unless an approver approved exactly this export; trace the approved.

Reads: the response (Content-Disposition, Content-Type), the record count from
pii_mask's report (``ex.metadata["pii"]``), the principal, the tenant, the
``X-DLP-Approval`` header (removed before forwarding), the user's records in the sliding
window (``deps.counters``). Writes: a verdict (rule, records, approval id),
``ex.metadata["export"]`` (rule, records; approval and watermark ids once approved,
for the audit log), an export key for pii_mask's watermark
(``ex.metadata["watermark_key"]``), a trace row per approved export, the user's window
and daily totals, an ``export_blocked`` incident per refusal. Denies: 403
``approval_required`` (with the request to send to the approvals endpoint) for an export
without approval, including a response that takes the user's window total over
``window_records``; 403 ``approval_invalid`` when the approval does not cover this
request (wrong user, path, query, too many records, expired, used); 503 (through the
pipeline) when the approval or trace store fails. A streamed export (counted only while it
is sent) is cut off — the client connection is aborted, never a clean end — as soon as
it passes the approval's ``max_records``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Protocol

from gateway.approvals.api import sorted_query
from gateway.approvals.store import ApprovalError, ApprovalUse
from gateway.exchange import Exchange
from gateway.export_config import ExportConfig
from gateway.export_tracking import ExportTracking, records_of
from gateway.metrics import GatewayMetrics
from reports.export_trace import ExportTraceStore
from reports.volume import BaselineSettings, DailyVolume, VolumeBaseline

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.stages.registry import StageDeps

__all__ = ["ApprovalConsumer", "ExportGuardStage", "ExportOverrun"]

log = logging.getLogger("dlpgw.export_guard")

_FILE_TYPES = ("text/csv", "application/vnd.ms-excel", "application/zip",
               "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               "application/x-zip-compressed")


class ExportOverrun(Exception):
    """A streamed export went past its approval's record ceiling (the send is aborted)."""


class ApprovalConsumer(Protocol):
    async def consume(self, approval_id: str, use: ApprovalUse,
                      now: float | None = None) -> Any: ...


class ExportGuardStage:
    name = "export_guard"
    critical = True

    def __init__(self, config: ExportConfig, store: ApprovalConsumer,
                 fingerprint: Callable[[str], str], metrics: GatewayMetrics,
                 tracking: ExportTracking | None = None) -> None:
        self._config = config
        self._store = store
        self._fingerprint = fingerprint
        self._metrics = metrics
        self._track = tracking or ExportTracking()
        self._routes = [re.compile(p) for p in config.routes]

    @classmethod
    def build(cls, config: Config, deps: StageDeps) -> ExportGuardStage:
        exports, db = config.exports, deps.database
        base = exports.baseline
        baseline = None if db is None or not base.enabled else VolumeBaseline(
            DailyVolume(db), BaselineSettings(base.days, base.k, base.min_records,
                                              base.flush_seconds), deps.incidents)
        tracking = ExportTracking(
            counters=deps.counters, traces=ExportTraceStore(db) if db else None,
            baseline=baseline, incidents=deps.incidents,
            watermark_secret=deps.watermark_secret if exports.watermark else None)
        return cls(exports, deps.approvals, deps.fingerprinter.fp, deps.metrics, tracking)

    async def aclose(self) -> None:
        """Write the buffered daily totals (the app calls this at shutdown)."""
        if self._track.baseline is not None:
            await self._track.baseline.close()

    async def on_request(self, ex: Exchange) -> None:
        approval = ex.request.headers.get(self._config.approval_header)
        if approval is not None:
            ex.request.mutable_headers().popall(self._config.approval_header, None)
            ex.metadata["approval_id"] = approval.strip()
            self._track.issue_watermark(ex)

    async def on_response(self, ex: Exchange) -> None:
        resp = ex.response
        if resp is None or not resp.from_upstream or ex.denial is not None:
            return
        user_fp = self._fingerprint(ex.principal.user) if ex.principal else None
        rule, records = self._classify(ex)
        if rule is None and user_fp is not None and await self._track.over_window(
                ex, user_fp, self._config.window_records, self._config.window_seconds):
            rule = "window_volume"
        if rule is None:
            self._track.delivered(ex, user_fp)
            return
        ex.metadata["export"] = {"rule": rule, "records": records}
        approval_id = ex.metadata.get("approval_id")
        if approval_id:
            await self._consume(ex, approval_id, rule, records)
            return
        self._metrics.exports_blocked.labels(rule=rule).inc()
        ex.deny(403, f"this response is an export ({rule}, {records} records) and needs an "
                "approval", code="approval_required", stage=self.name,
                extra={"records": records, "rule": rule, "approval": self._how(ex, records)})
        await self._blocked(ex, (rule, "no_approval"), records, user_fp)

    def _classify(self, ex: Exchange) -> tuple[str | None, int]:
        assert ex.response is not None
        records, _ = records_of(ex)
        disposition = ex.response.headers.get("Content-Disposition", "").lower()
        content_type = ex.response.headers.get("Content-Type", "").lower()
        if "attachment" in disposition:
            return "file_download", records
        if content_type.startswith(_FILE_TYPES):
            return "file_type", records
        if any(p.fullmatch(ex.request.path) for p in self._routes):
            return "export_route", records
        if records > self._config.max_records:
            return "record_count", records
        return None, records

    async def _consume(self, ex: Exchange, approval_id: str, rule: str, records: int) -> None:
        user = ex.principal.user if ex.principal else ""
        user_fp = self._fingerprint(user) if user else None
        query_fp = self._fingerprint(sorted_query(ex.request.query_string))
        use = ApprovalUse(user, ex.request.method, ex.request.path, query_fp, records)
        try:
            approval = await self._store.consume(approval_id, use)
        except ApprovalError as exc:
            self._metrics.exports_blocked.labels(rule="approval_invalid").inc()
            ex.deny(403, f"the approval does not cover this export: {exc.code}",
                    code="approval_invalid", stage=self.name, extra={"cause": exc.code})
            await self._blocked(ex, (rule, exc.code), records, user_fp)
            return
        self._metrics.approvals.labels(state="used").inc()
        if not await self._track.record_trace(ex, approval_id, user_fp or "", records):
            self._metrics.inspection_skipped.labels(reason="watermark_unavailable").inc()
            log.warning("approved export %s leaves without a traceable watermark",
                        approval_id)
        ex.metadata["export"].update(approval=approval_id,
                                     watermark=ex.metadata.get("watermark_id"))
        ex.verdicts.append({"stage": self.name, "decision": "allow", "rule": rule,
                            "records": records, "approval": approval_id})
        resp = ex.response
        assert resp is not None
        resp.headers["X-DLP-Export"] = approval_id
        if resp.stream is not None:
            # A streamed export is counted while it is sent: stop it at the approved ceiling.
            resp.set_stream(self._capped(resp.stream, ex, int(approval.max_records),
                                         user_fp))
        self._track.delivered(ex, user_fp)

    async def _capped(self, stream: AsyncIterator[bytes], ex: Exchange, ceiling: int,
                      user_fp: str | None) -> AsyncIterator[bytes]:
        async for chunk in stream:
            records, _ = records_of(ex)
            if records > ceiling:
                self._metrics.exports_blocked.labels(rule="approval_overrun").inc()
                await self._blocked(ex, ("record_count", "approval_overrun"), records,
                                    user_fp)
                raise ExportOverrun(f"the export passed its approved {ceiling} records")
            yield chunk

    async def _blocked(self, ex: Exchange, why: tuple[str, str], records: int,
                       user_fp: str | None) -> None:
        request_fp = self._fingerprint(f"{ex.request.method} {ex.request.path}?"
                                       f"{sorted_query(ex.request.query_string)}")
        await self._track.report_blocked(ex, why, records,
                                         (user_fp or "anonymous", request_fp))

    def _how(self, ex: Exchange, records: int) -> dict[str, Any]:
        return {"endpoint": self._config.approval_url, "method": "POST", "body": {
            "method": ex.request.method, "path": ex.request.path,
            "query": ex.request.query_string, "reason": "<why you need this export>",
            "max_records": max(records, 1), "ttl_seconds": 3600,
        }, "then": f"retry with header {self._config.approval_header}: <approval id>"}
