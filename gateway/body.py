"""Bounded body streams: size limits and Content-Encoding decoding with bomb guards."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

import brotli

__all__ = [
    "BodyTooLarge",
    "DecodeError",
    "DecodeLimits",
    "DecompressionBomb",
    "decode_stream",
    "iter_limited",
    "supported_encodings",
]

_CHUNK = 64 * 1024


class BodyTooLarge(Exception):
    """A body went over its configured size limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"body exceeds {limit} bytes")
        self.limit = limit


class DecodeError(Exception):
    """A compressed body could not be decoded (corrupt or unsupported)."""


class DecompressionBomb(DecodeError):
    """Decoded size or expansion ratio went over the configured limits."""


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    max_decoded_bytes: int = 256 * 1024 * 1024
    max_ratio: float = 200.0
    ratio_grace_bytes: int = 1024 * 1024


async def iter_limited(stream: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    total = 0
    async for chunk in stream:
        total += len(chunk)
        if total > limit:
            raise BodyTooLarge(limit)
        yield chunk


class _Decoder(Protocol):
    def feed(self, data: bytes, max_out: int) -> bytes: ...
    def more(self, max_out: int) -> bytes: ...
    def flush(self) -> bytes: ...


class _ZlibDecoder:
    def __init__(self, wbits: int) -> None:
        self._obj = zlib.decompressobj(wbits)
        self._raw_fallback = wbits == zlib.MAX_WBITS
        self._started = False

    def feed(self, data: bytes, max_out: int) -> bytes:
        try:
            out = self._obj.decompress(data, max_out)
        except zlib.error as exc:
            if self._raw_fallback and not self._started:
                # "deflate" is often sent as a raw stream without the zlib header
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                self._raw_fallback = False
                return self.feed(data, max_out)
            raise DecodeError(f"corrupt compressed body: {exc}") from exc
        self._started = True
        return out

    def more(self, max_out: int) -> bytes:
        tail = self._obj.unconsumed_tail
        if not tail:
            return b""
        return self.feed(tail, max_out)

    def flush(self) -> bytes:
        out = self._obj.flush()
        if not self._obj.eof:
            raise DecodeError("truncated compressed body")
        if self._obj.unused_data:
            raise DecodeError("unexpected data after the end of the compressed body")
        return out


class _BrotliDecoder:
    def __init__(self) -> None:
        self._obj = brotli.Decompressor()

    def feed(self, data: bytes, max_out: int) -> bytes:
        try:
            return bytes(self._obj.process(data, output_buffer_limit=max_out))
        except brotli.error as exc:
            raise DecodeError(f"corrupt brotli body: {exc}") from exc

    def more(self, max_out: int) -> bytes:
        if self._obj.can_accept_more_data():
            return b""
        return self.feed(b"", max_out)

    def flush(self) -> bytes:
        if not self._obj.is_finished():
            raise DecodeError("truncated brotli body")
        return b""


def _make_decoder(encoding: str) -> _Decoder:
    if encoding in ("gzip", "x-gzip"):
        return _ZlibDecoder(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return _ZlibDecoder(zlib.MAX_WBITS)
    if encoding == "br":
        return _BrotliDecoder()
    raise DecodeError(f"unsupported content-encoding {encoding!r}")


def supported_encodings() -> tuple[str, ...]:
    return ("gzip", "deflate", "br")


def _check(decoded: int, encoded: int, limits: DecodeLimits) -> None:
    if decoded > limits.max_decoded_bytes:
        raise DecompressionBomb(f"decoded body exceeds {limits.max_decoded_bytes} bytes")
    if decoded > limits.ratio_grace_bytes and decoded > limits.max_ratio * max(encoded, 1):
        raise DecompressionBomb(f"compression ratio exceeds {limits.max_ratio:g}")


async def decode_stream(
    stream: AsyncIterator[bytes], encoding: str, limits: DecodeLimits
) -> AsyncIterator[bytes]:
    """Yield the decoded body, never holding more than one output chunk in memory."""
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        async for chunk in stream:
            yield chunk
        return
    if len(codings) > 1:
        raise DecodeError("stacked content-encodings are not supported")
    decoder = _make_decoder(codings[0])
    encoded = decoded = 0
    async for chunk in stream:
        encoded += len(chunk)
        out = decoder.feed(chunk, _CHUNK)
        while out:
            decoded += len(out)
            _check(decoded, encoded, limits)
            yield out
            out = decoder.more(_CHUNK)
    tail = decoder.flush()
    if tail:
        decoded += len(tail)
        _check(decoded, encoded, limits)
        yield tail
