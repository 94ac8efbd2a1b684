from __future__ import annotations

import gzip
import zlib

import brotli
import pytest

from gateway.body import (
    BodyTooLarge,
    DecodeError,
    DecodeLimits,
    DecompressionBomb,
    decode_stream,
    iter_limited,
)


async def chunks(data: bytes, size: int = 1000):
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def collect(stream) -> bytes:
    return b"".join([c async for c in stream])


PAYLOAD = ("客户 " * 5000).encode() + bytes(range(256)) * 50


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [("gzip", gzip.compress), ("x-gzip", gzip.compress), ("deflate", zlib.compress),
     ("br", brotli.compress), ("identity", lambda b: b), ("GZIP", gzip.compress)],
)
async def test_round_trip(encoding, encode):
    out = await collect(decode_stream(chunks(encode(PAYLOAD)), encoding, DecodeLimits()))
    assert out == PAYLOAD


async def test_output_chunks_are_bounded():
    data = gzip.compress(b"a" * 5_000_000)
    sizes = [len(c) async for c in decode_stream(chunks(data, 100_000), "gzip",
                                                 DecodeLimits(max_ratio=1e9))]
    assert sum(sizes) == 5_000_000
    assert max(sizes) <= 64 * 1024


@pytest.mark.parametrize("encoding", ["gzip", "br"])
async def test_ratio_bomb(encoding):
    raw = b"\0" * 20_000_000
    data = gzip.compress(raw) if encoding == "gzip" else brotli.compress(raw)
    with pytest.raises(DecompressionBomb):
        await collect(decode_stream(chunks(data, 4096), encoding, DecodeLimits()))


async def test_size_bomb_even_with_a_modest_ratio():
    data = gzip.compress(bytes(range(256)) * 40_000)
    limits = DecodeLimits(max_decoded_bytes=1_000_000, max_ratio=1e9)
    with pytest.raises(DecompressionBomb):
        await collect(decode_stream(chunks(data), "gzip", limits))


@pytest.mark.parametrize(
    ("encoding", "data"),
    [("gzip", b"\x1f\x8b\x08\x00garbage-garbage"), ("br", b"\xff\xfe\xfd" * 10),
     ("gzip", gzip.compress(PAYLOAD)[:-20]), ("zstd", b"abc"), ("gzip, br", b"abc"),
     ("gzip", gzip.compress(b"x") + b"trailing")],
)
async def test_corrupt_truncated_or_unsupported(encoding, data):
    with pytest.raises(DecodeError):
        await collect(decode_stream(chunks(data), encoding, DecodeLimits()))


async def test_iter_limited():
    assert await collect(iter_limited(chunks(b"x" * 100), 100)) == b"x" * 100
    with pytest.raises(BodyTooLarge):
        await collect(iter_limited(chunks(b"x" * 101), 100))
