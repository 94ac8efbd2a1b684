"""Block bulk exports unless an approver approved exactly this export.

Reads: the response (Content-Disposition, Content-Type), the record count from
pii_mask's report (``ex.metadata["pii"]``), the principal, the ``X-DLP-Approval``
header (removed before forwarding). Writes: a verdict (rule, records, approval id),
``ex.metadata["export"]``. Denies: 403 ``approval_required`` (with the request to send
to the approvals endpoint) for an export without approval, 403 ``approval_invalid``
when the approval does not cover this request (wrong user, path, query, too many
records, expired, used), and 503 (through the pipeline) when the store fails.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, Protocol

from detectors.finding import ScanReport
from gateway.approvals.api import sorted_query
from gateway.approvals.store import ApprovalError, ApprovalUse
from gateway.exchange import Exchange
from gateway.export_config import ExportConfig
from gateway.metrics import GatewayMetrics

__all__ = ["ApprovalConsumer", "ExportGuardStage"]

log = logging.getLogger("dlpgw.export_guard")

_FILE_TYPES = ("text/csv", "application/vnd.ms-excel", "application/zip",
               "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               "application/x-zip-compressed")


class ApprovalConsumer(Protocol):
    async def consume(self, approval_id: str, use: ApprovalUse,
                      now: float | None = None) -> Any: ...


class ExportGuardStage:
    name = "export_guard"
    critical = True

    def __init__(self, config: ExportConfig, store: ApprovalConsumer,
                 fingerprint: Callable[[str], str], metrics: GatewayMetrics) -> None:
        self._config = config
        self._store = store
        self._fingerprint = fingerprint
        self._metrics = metrics
        self._routes = [re.compile(p) for p in config.routes]

    async def on_request(self, ex: Exchange) -> None:
        approval = ex.request.headers.get(self._config.approval_header)
        if approval is not None:
            ex.request.mutable_headers().popall(self._config.approval_header, None)
            ex.metadata["approval_id"] = approval.strip()

    async def on_response(self, ex: Exchange) -> None:
        resp = ex.response
        if resp is None or not resp.from_upstream or ex.denial is not None:
            return
        rule, records = self._classify(ex)
        if rule is None:
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

    def _classify(self, ex: Exchange) -> tuple[str | None, int]:
        assert ex.response is not None
        report = ex.metadata.get("pii")
        records = report.records if isinstance(report, ScanReport) else 0
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
        query_fp = self._fingerprint(sorted_query(ex.request.query_string))
        use = ApprovalUse(user, ex.request.method, ex.request.path, query_fp, records)
        try:
            await self._store.consume(approval_id, use)
        except ApprovalError as exc:
            self._metrics.exports_blocked.labels(rule="approval_invalid").inc()
            ex.deny(403, f"the approval does not cover this export: {exc.code}",
                    code="approval_invalid", stage=self.name, extra={"cause": exc.code})
            return
        self._metrics.approvals.labels(state="used").inc()
        ex.verdicts.append({"stage": self.name, "decision": "allow", "rule": rule,
                            "records": records, "approval": approval_id})
        ex.response.headers["X-DLP-Export"] = approval_id  # type: ignore[union-attr]

    def _how(self, ex: Exchange, records: int) -> dict[str, Any]:
        return {"endpoint": self._config.approval_url, "method": "POST", "body": {
            "method": ex.request.method, "path": ex.request.path,
            "query": ex.request.query_string, "reason": "<why you need this export>",
            "max_records": max(records, 1), "ttl_seconds": 3600,
        }, "then": f"retry with header {self._config.approval_header}: <approval id>"}
