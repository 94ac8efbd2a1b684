"""One audit-log entry per request decision, without bodies or raw identifiers.

Reads: request line, principal, route, verdicts, final status, bytes sent, the tenant,
the export decision and pii_mask's per-entity counts.
Writes: an entry (kind ``request``) to the hash-chained audit log when the response is
finished; the append only queues it, the log's writer thread commits it.
Denies: never (a failed write is counted in ``dlpgw_audit_write_failures_total``).

The query string is never logged, only its keyed fingerprint; path segments that look
like identifiers (six or more digits, or an ``@``) are replaced by fingerprints too.
"""

from __future__ import annotations

import re
import time
from typing import Any

from detectors.fingerprint import Fingerprinter
from gateway.exchange import Exchange
from reports.audit_log import AuditLog

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

    def __init__(self, sink: AuditLog, fingerprinter: Fingerprinter) -> None:
        self._sink = sink
        self._fp = fingerprinter
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
            "kind": "request",
            "actor": ex.principal.user if ex.principal else None,
            "request_id": ex.request_id,
            "method": ex.request.method,
            "path": self._path(ex.request.path),
            "query_fp": self._query(ex.request.query_string),
            "route": ex.route,
            "upstream": ex.upstream or None,
            "client_ip": ex.request.client_ip,
            "status": ex.status,
            "bytes": ex.bytes_sent,
            "duration_ms": round((time.perf_counter() - ex.started) * 1000, 3),
            "verdicts": ex.verdicts,
            "denial": ex.denial.code if ex.denial else None,
            "aborted": ex.aborted,
        }
        metadata = ex.metadata
        if "tenant" in metadata:
            entry["tenant"] = metadata["tenant"]
        if "export" in metadata:
            entry["export"] = metadata["export"]
        report = metadata.get("pii")
        if report is not None:
            entry["pii"] = {"found": report.counts, "kept": report.kept,
                            "records": report.records}
        self._sink.append(entry)
