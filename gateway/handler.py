"""The catch-all aiohttp handler: build the exchange, run the pipeline, send the answer.

No DLP logic lives here. The handler only refuses what cannot be routed (bad path,
admin prefix, no route, declared body too large) and streams the final response.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.config import Config
from gateway.exchange import Exchange, RequestData, ResponseData
from gateway.metrics import GatewayMetrics
from gateway.paths import PathError, canonical_path, split_target
from gateway.pipeline import Pipeline
from gateway.routing import Router, prefix_matches
from gateway.upstream import BODY_ERRORS, UpstreamBodyError, Upstreams, classify_body_error

__all__ = ["ProxyHandler"]

log = logging.getLogger("dlpgw.handler")

_PREFETCH_DECODED = 4 * 1024 * 1024
_SMALL_BODY = 256 * 1024


def _prefetch_size(resp: ResponseData) -> int:
    """Small bodies are sent in one write; decoded ones are read ahead to catch bombs."""
    if resp.decoded:
        return _PREFETCH_DECODED
    length = resp.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > _SMALL_BODY:
        return 1
    return _SMALL_BODY + 1


class ProxyHandler:
    def __init__(self, pipeline: Pipeline, router: Router, upstreams: Upstreams,
                 config: Config, metrics: GatewayMetrics) -> None:
        self._pipeline = pipeline
        self._router = router
        self._upstreams = upstreams
        self._config = config
        self._metrics = metrics

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ex = self._exchange(request)
        try:
            await self._pipeline.handle(ex)
            return await self._send(request, ex)
        finally:
            if ex.response is not None:
                ex.response.close()
            ex.finish()

    def _exchange(self, request: web.Request) -> Exchange:
        raw_path, query = split_target(request.raw_path)
        limit = self._config.limits.request_body_bytes
        data = RequestData(
            method=request.method.upper(), path=raw_path, query_string=query,
            headers=request.headers, client_ip=request.remote or "",
            scheme=request.scheme, host=request.host, body_limit=limit,
        )
        if request.body_exists:
            data.stream = request.content.iter_chunked(64 * 1024)
        ex = Exchange(request_id=os.urandom(16).hex(), request=data)
        try:
            data.path = canonical_path(raw_path)
        except PathError as exc:
            ex.deny(400, str(exc), code="bad_path", stage="ingress")
            return ex
        if prefix_matches(self._config.admin.prefix, data.path + "/"):
            ex.deny(404, "not found", code="not_found", stage="ingress")
            return ex
        route = self._router.match(request.host, data.path)
        if route is None:
            ex.deny(404, "no route for this host and path", code="no_route", stage="ingress")
            return ex
        ex.route = route.name
        if request.content_length is not None and request.content_length > limit:
            self._metrics.body_rejected.labels(direction="request", reason="too_large").inc()
            ex.deny(413, f"request body exceeds {limit} bytes", code="request_too_large",
                    stage="ingress")
        return ex

    async def _send(self, request: web.Request, ex: Exchange) -> web.StreamResponse:
        resp = ex.response
        if resp is None:
            ex.deny(502, "no response was produced", code="no_response", stage="handler")
            resp = ex.response
            assert resp is not None
        resp.headers["X-Request-Id"] = ex.request_id
        if resp.stream is None:
            return self._buffered(ex, resp)
        try:
            head, complete = await self._prefetch(resp.stream, _prefetch_size(resp))
        except BODY_ERRORS as exc:
            self._body_failure(ex, exc)
            status, code, reason = classify_body_error(exc)
            return self._refuse(ex, status, code, reason)
        except Exception as exc:
            self._metrics.stage_errors.labels(stage="stream", critical="True").inc()
            log.error("response stream failed: %s (request %s)", type(exc).__name__,
                      ex.request_id)
            return self._refuse(ex, 503, "inspection_failed",
                                "the response could not be inspected (fail closed)")
        if complete:
            resp.set_body(b"".join(head))
            return self._buffered(ex, resp)
        return await self._stream(request, ex, resp, head)

    def _refuse(self, ex: Exchange, status: int, code: str, reason: str) -> web.Response:
        ex.deny(status, reason, code=code, stage="handler")
        assert ex.response is not None
        ex.response.headers["X-Request-Id"] = ex.request_id
        return self._buffered(ex, ex.response)

    def _buffered(self, ex: Exchange, resp: ResponseData) -> web.Response:
        headers = resp.headers
        headers.popall("Content-Length", None)
        body = resp.body or b""
        ex.bytes_sent = len(body)
        return web.Response(status=resp.status, reason=resp.reason, headers=headers, body=body)

    @staticmethod
    async def _prefetch(stream: AsyncIterator[bytes], at_most: int) -> tuple[list[bytes], bool]:
        """Read up to ``at_most`` bytes; say whether that was the whole body."""
        head: list[bytes] = []
        size = 0
        async for chunk in stream:
            head.append(chunk)
            size += len(chunk)
            if size >= at_most:
                return head, False
        return head, True

    async def _stream(self, request: web.Request, ex: Exchange, resp: ResponseData,
                      head: list[bytes]) -> web.StreamResponse:
        out = web.StreamResponse(status=resp.status, reason=resp.reason, headers=resp.headers)
        assert resp.stream is not None
        try:
            await out.prepare(request)
            for chunk in head:
                await out.write(chunk)
                ex.bytes_sent += len(chunk)
            async for chunk in resp.stream:
                await out.write(chunk)
                ex.bytes_sent += len(chunk)
            await out.write_eof()
        except BODY_ERRORS as exc:
            self._body_failure(ex, exc)
            ex.aborted = "upstream"
            # Headers are gone; only a broken connection tells the client the body is bad.
            if request.transport is not None:
                request.transport.abort()
        except ConnectionResetError:
            self._client_gone(ex)
        except Exception as exc:
            # A transform (masking) failed mid-stream: never let the rest through unscanned.
            ex.aborted = "inspection"
            self._metrics.stage_errors.labels(stage="stream", critical="True").inc()
            log.error("response stream failed: %s (request %s)", type(exc).__name__,
                      ex.request_id)
            if request.transport is not None:
                request.transport.abort()
        except asyncio.CancelledError:
            self._client_gone(ex)
            raise
        return out

    def _client_gone(self, ex: Exchange) -> None:
        ex.aborted = "client"
        self._metrics.client_aborts.inc()

    def _body_failure(self, ex: Exchange, exc: Exception) -> None:
        _, code, _ = classify_body_error(exc)
        if isinstance(exc, UpstreamBodyError):
            self._metrics.upstream_errors.labels(reason=code).inc()
        else:
            self._metrics.body_rejected.labels(direction="response", reason=code).inc()
        log.warning("response body failed: %s (request %s)", code, ex.request_id)
