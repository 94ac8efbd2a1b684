"""Mask personal data in upstream responses, by format and by the caller's roles.

Reads: the response (headers, decoded body), the principal's roles, the field rights
the authz stage put in ``ex.metadata["unmask"]``, the route's inspection settings, and
an approved export's watermark key (``ex.metadata["watermark_key"]``, from export_guard).
Writes: the masked body, ``X-DLP-Masked``, ``ex.findings`` and ``ex.metadata["pii"]``
(counts per entity, records). Denies (fail closed): a body over
the inspection limit or of an unknown type when the route says ``block``, a body that
cannot be parsed when the route says ``block``, and any detector error or timeout
(503, through the pipeline's critical-stage handling).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from detectors.document import STREAMABLE, StreamMasker, mask_document, stream_masker
from detectors.engine import DetectionEngine
from detectors.finding import ScanReport
from detectors.formats.detect import charset_of, detect_format
from detectors.formats.errors import FormatError
from detectors.masker import DocumentMasker, MarkHook
from detectors.watermark import Watermark, alt_glyph
from gateway.body import BodyTooLarge
from gateway.exchange import Exchange, ResponseData
from gateway.metrics import GatewayMetrics
from gateway.pii_config import InspectionConfig

__all__ = ["InspectLimits", "PiiMaskStage"]

log = logging.getLogger("dlpgw.pii_mask")

_NO_BODY = frozenset({204, 304})
_STRIP_ON_MASK = ("ETag", "Content-MD5", "Digest", "Content-Range", "Accept-Ranges")


@dataclass(frozen=True, slots=True)
class InspectLimits:
    buffer_bytes: int
    inline_bytes: int
    timeout: float


class PiiMaskStage:
    name = "pii_mask"
    critical = True

    def __init__(self, engine: DetectionEngine, metrics: GatewayMetrics,
                 routes: dict[str, InspectionConfig], limits: InspectLimits) -> None:
        self._engine = engine
        self._metrics = metrics
        self._routes = routes
        self._limit = limits.buffer_bytes
        self._inline = limits.inline_bytes
        self._timeout = limits.timeout
        self._children: dict[tuple[str, str], Any] = {}

    async def on_request(self, ex: Exchange) -> None:
        # A range would hand out an unscanned fragment; the whole body is fetched instead.
        headers = ex.request.headers
        if self._settings(ex).enabled and ("Range" in headers or "If-Range" in headers):
            mutable = ex.request.mutable_headers()
            mutable.popall("Range", None)
            mutable.popall("If-Range", None)

    async def on_response(self, ex: Exchange) -> None:
        resp = ex.response
        if resp is None or not resp.from_upstream or ex.denial is not None:
            return
        settings = self._settings(ex)
        if not settings.enabled:
            self._skip("route_disabled")
            return
        if ex.request.method == "HEAD" or resp.status in _NO_BODY:
            return
        fmt = detect_format(resp.headers.get("Content-Type"),
                            resp.headers.get("Content-Disposition"))
        if fmt is None:
            self._unknown(ex, settings)
            return
        limit = settings.max_body_bytes or self._limit
        charset = charset_of(resp.headers.get("Content-Type"))
        if fmt in STREAMABLE and resp.stream is not None and not _small(resp, limit):
            report = ex.metadata["pii"] = ScanReport()
            masker = stream_masker(
                fmt, self._engine.masker(_roles(ex), report, _unmask(ex), _mark(ex, charset)),
                charset)
            resp.set_stream(self._masked_stream(resp.stream, masker, (fmt, report)))
            resp.headers["X-DLP-Inspected"] = "streaming"
            return
        body = await self._read(ex, resp, limit, settings)
        if body is None:
            return
        await self._mask(ex, resp, body, (fmt, charset), settings)

    def _settings(self, ex: Exchange) -> InspectionConfig:
        return self._routes.get(ex.route) or InspectionConfig()

    def _skip(self, reason: str) -> None:
        self._metrics.inspection_skipped.labels(reason=reason).inc()

    def _unknown(self, ex: Exchange, settings: InspectionConfig) -> None:
        if settings.unknown_types == "pass":
            self._skip("unknown_type")
            return
        ex.deny(502, "the upstream response type cannot be inspected", code="uninspectable",
                stage=self.name)

    async def _read(self, ex: Exchange, resp: ResponseData, limit: int,
                    settings: InspectionConfig) -> bytes | None:
        declared = resp.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit and settings.oversize == "pass":
            self._skip("oversize")
            return None
        try:
            return await resp.read(limit)
        except BodyTooLarge:
            pass
        self._metrics.body_rejected.labels(direction="response", reason="too_large").inc()
        ex.deny(502, f"the upstream response exceeds the inspection limit of {limit} bytes",
                code="response_too_large", stage=self.name)
        return None

    async def _mask(self, ex: Exchange, resp: ResponseData, body: bytes,
                    kind: tuple[str, str | None], settings: InspectionConfig) -> None:
        fmt, charset = kind
        roles = _roles(ex)
        unmask = _unmask(ex)
        cache = self._engine.documents
        digest = cache.digest(body, fmt, charset or "", settings.parse_errors, *roles, "|",
                              *sorted(unmask))
        mark = _mark(ex, charset)
        cached = cache.get(digest) if mark is None else None
        if cached is not None:
            masked, report = cached[0], cached[1]
            self._metrics.inspection_cache.labels(result="hit").inc()
        else:
            report = ScanReport()
            started = time.perf_counter()
            try:
                masked = await self._run(fmt, body, self._engine.masker(roles, report, unmask,
                                                                        mark),
                                         (charset, settings.parse_errors == "text"))
            except FormatError as exc:
                ex.deny(502, f"the upstream response is not valid {exc.format}: "
                        f"{exc.problem}", code="unparseable_response", stage=self.name)
                return
            self._metrics.inspection_duration.labels(format=fmt).observe(
                time.perf_counter() - started)
            self._metrics.inspection_cache.labels(result="miss").inc()
            if mark is None:
                cache.put(digest, masked, report)
        assert isinstance(report, ScanReport)
        ex.metadata["pii"] = report
        self._observe(fmt, len(body), report)
        ex.findings.extend(report.findings)
        if report.total:
            resp.set_body(masked)
            for header in _STRIP_ON_MASK:
                resp.headers.popall(header, None)
        resp.headers["X-DLP-Masked"] = str(report.total)

    async def _run(self, fmt: str, body: bytes, masker: DocumentMasker,
                   options: tuple[str | None, bool]) -> bytes:
        charset, fallback = options
        if len(body) <= self._inline:
            return mask_document(fmt, body, masker, charset, fallback)
        return await asyncio.wait_for(asyncio.to_thread(
            mask_document, fmt, body, masker, charset, fallback), self._timeout)

    def _observe(self, fmt: str, size: int, report: ScanReport) -> None:
        self._child("bytes", fmt).inc(size)
        for reason, count in report.skipped.items():
            self._metrics.inspection_skipped.labels(reason=reason).inc(count)
        for entity, count in report.counts.items():
            kept = report.kept.get(entity, 0)
            if count - kept:
                self._child("masked", entity).inc(count - kept)
            if kept:
                self._child("kept", entity).inc(kept)

    def _child(self, kind: str, label: str) -> Any:
        """Labelled metric children, looked up once (entity and format sets are bounded)."""
        child = self._children.get((kind, label))
        if child is None:
            if kind == "bytes":
                child = self._metrics.inspection_bytes.labels(format=label)
            else:
                child = self._metrics.pii_findings.labels(entity=label, action=kind)
            self._children[(kind, label)] = child
        return child

    async def _masked_stream(self, source: AsyncIterator[bytes], masker: StreamMasker,
                             kind: tuple[str, ScanReport]) -> AsyncIterator[bytes]:
        fmt, report = kind
        size = 0
        started = time.perf_counter()
        async for chunk in source:
            size += len(chunk)
            out = await asyncio.to_thread(masker.feed, chunk)
            if out:
                yield out
        tail = masker.finish()
        if tail:
            yield tail
        self._metrics.inspection_duration.labels(format=fmt).observe(
            time.perf_counter() - started)
        self._observe(fmt, size, report)


def _small(resp: ResponseData, limit: int) -> bool:
    declared = resp.headers.get("Content-Length", "")
    return declared.isdigit() and int(declared) <= min(limit, 1024 * 1024)


def _unmask(ex: Exchange) -> frozenset[str]:
    """Entities the access policy lets this caller see in clear (set by authz)."""
    value = ex.metadata.get("unmask")
    return value if isinstance(value, frozenset) else frozenset()


def _mark(ex: Exchange, charset: str | None) -> MarkHook | None:
    """An approved export's watermark: export_guard put the export's key in the metadata."""
    key = ex.metadata.get("watermark_key")
    glyph = alt_glyph(charset) if isinstance(key, bytes) else None
    return Watermark(key, glyph).mark if isinstance(key, bytes) and glyph else None


def _roles(ex: Exchange) -> tuple[str, ...]:
    return ex.principal.roles if ex.principal is not None else ()
