"""The one object that flows through the pipeline: request, principal, response, verdicts."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.body import BodyTooLarge, iter_limited

__all__ = [
    "BodyTooLarge",
    "Denial",
    "Exchange",
    "Principal",
    "RequestData",
    "ResponseData",
]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. Never holds credentials."""

    user: str
    roles: tuple[str, ...] = ()
    tenants: tuple[str, ...] = ()
    auth_method: str = ""


@dataclass(slots=True)
class RequestData:
    """The client's request as the gateway sees it.

    ``body`` is an async iterator of raw chunks until a stage calls :meth:`read`,
    which buffers it (bounded by ``body_limit``) so later stages and the upstream see
    the same bytes.
    """

    method: str
    path: str
    query_string: str
    headers: CIMultiDictProxy[str] | CIMultiDict[str]
    client_ip: str
    scheme: str = "http"
    host: str = ""
    body_limit: int = 10 * 1024 * 1024
    stream: AsyncIterator[bytes] | None = None
    _buffered: bytes | None = None

    async def read(self) -> bytes:
        if self._buffered is None:
            chunks = []
            if self.stream is not None:
                async for chunk in iter_limited(self.stream, self.body_limit):
                    chunks.append(chunk)
            self._buffered = b"".join(chunks)
            self.stream = None
        return self._buffered

    def mutable_headers(self) -> CIMultiDict[str]:
        """The headers as a mutable copy, made on first use (most requests never need it)."""
        if not isinstance(self.headers, CIMultiDict):
            self.headers = CIMultiDict(self.headers)
        return self.headers

    def body_stream(self) -> AsyncIterator[bytes] | bytes | None:
        """What the upstream forwarder sends: the buffered bytes if read, else the stream."""
        if self._buffered is not None:
            return self._buffered
        if self.stream is None:
            return None
        return iter_limited(self.stream, self.body_limit)


@dataclass(slots=True)
class ResponseData:
    """A response, from the upstream or made by the gateway.

    The body is either ``body`` (bytes, already complete) or ``stream`` (an async
    iterator of *decoded* chunks). Stages that transform bodies replace one of them.
    """

    status: int
    headers: CIMultiDict[str]
    body: bytes | None = None
    stream: AsyncIterator[bytes] | None = None
    reason: str | None = None
    from_upstream: bool = False
    decoded: bool = False
    _closers: list[Callable[[], None]] = field(default_factory=list)

    async def read(self, limit: int) -> bytes:
        """Buffer the whole body (at most ``limit`` bytes) and return it."""
        if self.body is not None and len(self.body) > limit:
            raise BodyTooLarge(limit)
        if self.body is None:
            chunks = []
            if self.stream is not None:
                async for chunk in iter_limited(self.stream, limit):
                    chunks.append(chunk)
            self.body = b"".join(chunks)
            self.stream = None
        return self.body

    def set_body(self, body: bytes, content_type: str | None = None) -> None:
        self.close()
        self.body = body
        self.stream = None
        if content_type is not None:
            self.headers["Content-Type"] = content_type
        self.headers.popall("Content-Length", None)

    def set_stream(self, stream: AsyncIterator[bytes], content_type: str | None = None) -> None:
        """Replace the body with a transformed stream (the length is then unknown)."""
        self.body = None
        self.stream = stream
        if content_type is not None:
            self.headers["Content-Type"] = content_type
        self.headers.popall("Content-Length", None)

    def on_close(self, closer: Callable[[], None]) -> None:
        self._closers.append(closer)

    def close(self) -> None:
        """Release upstream resources (idempotent)."""
        closers, self._closers = self._closers, []
        for closer in closers:
            closer()


@dataclass(frozen=True, slots=True)
class Denial:
    status: int
    code: str
    reason: str
    stage: str


@dataclass(slots=True)
class Exchange:
    request_id: str
    request: RequestData
    route: str = "unmatched"
    upstream: str = ""
    principal: Principal | None = None
    response: ResponseData | None = None
    denial: Denial | None = None
    findings: list[Any] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    bytes_sent: int = 0
    aborted: str | None = None
    _done: list[Callable[[Exchange], None]] = field(default_factory=list)

    def deny(
        self,
        status: int,
        reason: str,
        *,
        code: str = "denied",
        stage: str = "",
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Stop the exchange with a JSON error. The only way a stage stops a request."""
        payload: dict[str, Any] = {"error": code, "reason": reason, "request_id": self.request_id}
        if extra:
            payload.update(extra)
        headers = CIMultiDict({"Content-Type": "application/json"})
        if self.response is not None:
            self.response.close()
        self.response = ResponseData(status=status, headers=headers, body=orjson.dumps(payload))
        self.denial = Denial(status=status, code=code, reason=reason, stage=stage)
        self.verdicts.append({"stage": stage, "decision": "deny", "code": code, "status": status})

    def add_done_callback(self, callback: Callable[[Exchange], None]) -> None:
        """Run ``callback`` once the response is fully sent, aborted or failed."""
        self._done.append(callback)

    def finish(self) -> None:
        callbacks, self._done = self._done, []
        for callback in callbacks:
            callback(self)

    @property
    def status(self) -> int:
        return self.response.status if self.response is not None else 0
