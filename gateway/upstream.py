"""Forward an exchange to its upstream: pooled sessions, header hygiene, timeouts, decoding."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from gateway.body import (
    BodyTooLarge,
    DecodeError,
    DecodeLimits,
    DecompressionBomb,
    decode_stream,
    supported_encodings,
)
from gateway.config import RouteConfig, UpstreamConfig
from gateway.exchange import Exchange, ResponseData
from gateway.metrics import GatewayMetrics

__all__ = [
    "BODY_ERRORS",
    "HOP_BY_HOP",
    "UpstreamBodyError",
    "Upstreams",
    "classify_body_error",
    "clean_headers",
]

HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "trailers", "transfer-encoding", "upgrade", "proxy-connection",
    }
)
_READ_CHUNK = 16 * 1024
_SMALL_BODY = 256 * 1024
_DROP_UPSTREAM = frozenset({"host", "accept-encoding"})
_ACCEPT_ENCODING = ", ".join(supported_encodings())
VIA = "1.1 dlp-gateway"


class UpstreamBodyError(Exception):
    """The upstream failed while its body was being read (reset, timeout)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


BODY_ERRORS = (UpstreamBodyError, DecodeError, BodyTooLarge)


def classify_body_error(exc: BaseException) -> tuple[int, str, str]:
    """Map a failure while reading a response body to (status, code, reason)."""
    if isinstance(exc, UpstreamBodyError) and exc.reason == "upstream_timeout":
        return 504, "upstream_timeout", "the upstream stopped sending its body in time"
    if isinstance(exc, UpstreamBodyError):
        return 502, "upstream_reset", "the upstream connection failed while sending its body"
    if isinstance(exc, DecompressionBomb):
        return 502, "decompression_limit", "the upstream body exceeds the decompression limits"
    if isinstance(exc, DecodeError):
        return 502, "undecodable_body", "the upstream body could not be decoded"
    return 502, "response_too_large", "the upstream body exceeds the gateway's limit"


def clean_headers(
    headers: Mapping[str, str], drop: frozenset[str] = frozenset()
) -> CIMultiDict[str]:
    """Copy headers without hop-by-hop ones, nor those named in ``Connection``."""
    named = {
        token.strip().lower()
        for value in getattr(headers, "getall", lambda *_: [])("Connection", [])
        for token in value.split(",")
    }
    out: CIMultiDict[str] = CIMultiDict()
    for key, value in headers.items():
        lower = key.lower()
        if lower in HOP_BY_HOP or lower in named or lower in drop:
            continue
        out.add(key, value)
    return out


class Upstreams:
    """One pooled client session per upstream, opened and closed with the app."""

    def __init__(
        self,
        upstreams: Mapping[str, UpstreamConfig],
        metrics: GatewayMetrics,
        decode_limits: DecodeLimits,
    ) -> None:
        self._configs = dict(upstreams)
        self._metrics = metrics
        self._decode_limits = decode_limits
        self._sessions: dict[str, aiohttp.ClientSession] = {}

    async def start(self) -> None:
        for name, cfg in self._configs.items():
            timeout = aiohttp.ClientTimeout(
                total=cfg.timeouts.total, connect=cfg.timeouts.connect,
                sock_read=cfg.timeouts.read,
            )
            connector = aiohttp.TCPConnector(limit=cfg.max_connections, ttl_dns_cache=60)
            self._sessions[name] = aiohttp.ClientSession(
                connector=connector, timeout=timeout, auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
                cookie_jar=aiohttp.DummyCookieJar(),
            )

    async def close(self) -> None:
        sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            await session.close()

    def config(self, name: str) -> UpstreamConfig:
        return self._configs[name]

    async def probe(self, name: str) -> bool:
        """Can a TCP connection to the upstream be opened (within its connect timeout)?"""
        cfg = self._configs[name]
        url = URL(cfg.url)
        try:
            async with asyncio.timeout(min(cfg.timeouts.connect, 2.0)):
                _, writer = await asyncio.open_connection(url.host, url.port)
        except (OSError, TimeoutError):
            return False
        writer.close()
        return True

    def _request_headers(self, ex: Exchange, route: RouteConfig) -> CIMultiDict[str]:
        req = ex.request
        headers = clean_headers(req.headers, drop=_DROP_UPSTREAM)
        if route.preserve_host and req.host:
            headers["Host"] = req.host
        forwarded_for = req.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = (
            f"{forwarded_for}, {req.client_ip}" if forwarded_for else req.client_ip
        )
        headers["X-Forwarded-Proto"] = req.scheme
        if req.host:
            headers["X-Forwarded-Host"] = req.host
        headers["X-Request-Id"] = ex.request_id
        via = req.headers.get("Via")
        headers["Via"] = f"{via}, {VIA}" if via else VIA
        headers["Accept-Encoding"] = _ACCEPT_ENCODING
        return headers

    def _target(self, ex: Exchange, route: RouteConfig) -> str:
        path = ex.request.path
        if route.strip_prefix and route.prefix != "/":
            path = path[len(route.prefix.rstrip("/")):] or "/"
        url = self._configs[route.upstream].url + path
        if ex.request.query_string:
            url += "?" + ex.request.query_string
        return url

    async def forward(self, ex: Exchange, route: RouteConfig) -> None:
        session = self._sessions[route.upstream]
        ex.upstream = route.upstream
        started = time.perf_counter()
        try:
            resp = await session.request(
                ex.request.method,
                URL(self._target(ex, route), encoded=True),
                headers=self._request_headers(ex, route),
                data=ex.request.body_stream(),
                allow_redirects=False,
            )
        except BodyTooLarge as exc:
            self._fail(ex, 413, "request_too_large", f"request body exceeds {exc.limit} bytes")
            return
        except TimeoutError:
            self._fail(ex, 504, "upstream_timeout", "the upstream did not answer in time")
            return
        except aiohttp.ClientError as exc:
            if isinstance(exc.__cause__, BodyTooLarge) or ex.metadata.get("request_too_large"):
                self._fail(ex, 413, "request_too_large", "request body exceeds the limit")
                return
            self._fail(ex, 502, "upstream_unreachable", "the upstream could not be reached")
            return
        self._metrics.upstream_duration.labels(upstream=route.upstream).observe(
            time.perf_counter() - started
        )
        ex.response = self._wrap(resp)
        if _small_plain(resp):
            await self._read_small(ex, ex.response, resp)

    async def _read_small(self, ex: Exchange, response: ResponseData,
                          resp: aiohttp.ClientResponse) -> None:
        """A small uncompressed body is read at once: one buffer, no stream machinery."""
        try:
            body = await resp.read()
        except TimeoutError:
            response.close()
            self._fail(ex, 504, "upstream_timeout", "the upstream stopped sending its body")
            return
        except aiohttp.ClientError:
            response.close()
            self._fail(ex, 502, "upstream_reset", "the upstream failed while sending its body")
            return
        response.body, response.stream = body, None
        response.close()

    def _fail(self, ex: Exchange, status: int, code: str, reason: str) -> None:
        if code != "request_too_large":
            self._metrics.upstream_errors.labels(reason=code).inc()
        else:
            self._metrics.body_rejected.labels(direction="request", reason="too_large").inc()
        ex.deny(status, reason, code=code, stage="upstream")

    def _wrap(self, resp: aiohttp.ClientResponse) -> ResponseData:
        headers = clean_headers(resp.headers)
        via = headers.get("Via")
        headers["Via"] = f"{via}, {VIA}" if via else VIA
        encoding = headers.get("Content-Encoding", "").strip().lower()
        decoded = bool(encoding) and encoding != "identity"
        stream: AsyncIterator[bytes] = _read_body(resp, small_reads=decoded)
        if decoded:
            stream = decode_stream(stream, encoding, self._decode_limits)
            headers.popall("Content-Encoding", None)
            headers.popall("Content-Length", None)
        response = ResponseData(
            status=resp.status, headers=headers, stream=stream, reason=resp.reason,
            from_upstream=True, decoded=decoded,
        )
        response.on_close(lambda: _finish(resp))
        return response


def _small_plain(resp: aiohttp.ClientResponse) -> bool:
    length = resp.content_length
    encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
    return length is not None and length <= _SMALL_BODY and encoding == "identity"


def _finish(resp: aiohttp.ClientResponse) -> None:
    """Keep the pooled connection only if the body was read to its end."""
    if resp.content.at_eof():
        resp.release()
    else:
        resp.close()


async def _read_body(resp: aiohttp.ClientResponse, small_reads: bool) -> AsyncIterator[bytes]:
    """Relay the body; compressed input is read in small pieces so ratio checks bite early."""
    chunks = resp.content.iter_chunked(_READ_CHUNK) if small_reads else resp.content.iter_any()
    try:
        async for chunk in chunks:
            yield chunk
    except TimeoutError as exc:
        raise UpstreamBodyError("upstream_timeout") from exc
    except aiohttp.ClientError as exc:
        raise UpstreamBodyError("upstream_reset") from exc
