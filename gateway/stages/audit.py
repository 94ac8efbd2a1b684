"""One structured JSON line per request, without bodies or raw identifiers.

Reads: request line, principal, route, verdicts, final status, bytes sent.
Writes: an entry to the request log when the response is finished.
Denies: never (a failed write is counted in ``dlpgw_audit_write_failures_total``).

The query string is never logged, only its keyed fingerprint; path segments that look
like identifiers (six or more digits, or an ``@``) are replaced by fingerprints too.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from detectors.fingerprint import Fingerprinter
from gateway.exchange import Exchange
from gateway.metrics import GatewayMetrics
from reports.request_log import RequestLog

__all__ = ["AuditStage", "redact_path"]

_IDENTIFIER_SEGMENT = re.compile(r"\d{6,}|@|%40")


def redact_path(path: str, fingerprinter: Fingerprinter) -> str:
    return "/".join(
        f"{{{fingerprinter.fp(seg)}}}" if _IDENTIFIER_SEGMENT.search(seg) else seg
        for seg in path.split("/")
    )


class AuditStage:
    name = "audit"
    critical = False
    observer = True

    def __init__(self, sink: RequestLog, fingerprinter: Fingerprinter,
                 metrics: GatewayMetrics) -> None:
        self._sink = sink
        self._fp = fingerprinter
        self._metrics = metrics
        self._paths: dict[str, str] = {}

    def _path(self, path: str) -> str:
        redacted = self._paths.get(path)
        if redacted is None:
            redacted = redact_path(path, self._fp)
            self._remember(path, redacted)
        return redacted

    def _query(self, query: str) -> str | None:
        if not query:
            return None
        key = "?" + query
        fp = self._paths.get(key)
        if fp is None:
            fp = self._fp.fp(query)
            self._remember(key, fp)
        return fp

    def _remember(self, key: str, value: str) -> None:
        if len(self._paths) >= 4096:
            self._paths.clear()
        self._paths[key] = value

    async def on_request(self, ex: Exchange) -> None:
        ex.add_done_callback(self._done)

    async def on_response(self, ex: Exchange) -> None:
        return None

    def _done(self, ex: Exchange) -> None:
        entry: dict[str, Any] = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "request_id": ex.request_id,
            "method": ex.request.method,
            "path": self._path(ex.request.path),
            "query_fp": self._query(ex.request.query_string),
            "route": ex.route,
            "upstream": ex.upstream or None,
            "client_ip": ex.request.client_ip,
            "user": ex.principal.user if ex.principal else None,
            "status": ex.status,
            "bytes": ex.bytes_sent,
            "duration_ms": round((time.perf_counter() - ex.started) * 1000, 3),
            "verdicts": ex.verdicts,
            "denial": ex.denial.code if ex.denial else None,
            "aborted": ex.aborted,
        }
        if not self._sink.append(entry):
            self._metrics.audit_write_failures.inc()
