"""The proxy core against real aiohttp upstreams on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
import zlib

import aiohttp
import brotli
import pytest
from aiohttp import web
from yarl import URL

from gateway.runtime import GATEWAY

pytestmark = pytest.mark.asyncio


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.json_response(
        {
            "method": request.method,
            "path": request.raw_path,
            "body": body.decode("utf-8", "replace"),
            "headers": {k.lower(): v for k, v in request.headers.items()},
        },
        headers={"Connection": "keep-alive, X-Secret-Hop", "X-Secret-Hop": "1",
                 "Keep-Alive": "timeout=5", "X-Upstream": "crm"},
    )


def echo_app() -> web.Application:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
async def test_every_method_with_a_body_reaches_the_upstream(start_upstream, start_gateway, method):
    gw = await start_gateway(await start_upstream(echo_app()))
    payload = f"payload for {method} 数据".encode()
    async with aiohttp.ClientSession() as client, client.request(
        method, gw.url + "/api/things/1?x=1", data=payload
    ) as resp:
        assert resp.status == 200
        seen = await resp.json()
    assert seen["method"] == method
    assert seen["path"] == "/api/things/1?x=1"
    assert seen["body"] == payload.decode()


async def test_head_has_no_body(start_upstream, start_gateway):
    gw = await start_gateway(await start_upstream(echo_app()))
    async with aiohttp.ClientSession() as client, client.head(gw.url + "/x") as resp:
        assert resp.status == 200
        assert await resp.read() == b""


async def test_hop_by_hop_headers_are_stripped_both_ways(start_upstream, start_gateway):
    gw = await start_gateway(await start_upstream(echo_app()))
    headers = {"Connection": "X-Client-Hop", "X-Client-Hop": "secret", "TE": "trailers",
               "Proxy-Authorization": "Basic Zm9vOmJhcg==", "X-Kept": "yes"}
    async with aiohttp.ClientSession() as client, client.get(
        gw.url + "/h", headers=headers
    ) as resp:
        seen = (await resp.json())["headers"]
        assert "X-Secret-Hop" not in resp.headers
        assert "Keep-Alive" not in resp.headers
        assert resp.headers["X-Upstream"] == "crm"
        assert "dlp-gateway" in resp.headers["Via"]
        assert resp.headers["X-Request-Id"]
    for hop in ("x-client-hop", "te", "proxy-authorization"):
        assert hop not in seen
    assert seen["x-kept"] == "yes"
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["via"] == "1.1 dlp-gateway"


async def test_forwarded_for_is_appended(start_upstream, start_gateway):
    # Without pii_mask: the echoed IP address would (rightly) be masked.
    gw = await start_gateway(await start_upstream(echo_app()), stages=["metrics", "audit"])
    async with aiohttp.ClientSession() as client, client.get(
        gw.url + "/h", headers={"X-Forwarded-For": "203.0.113.9"}
    ) as resp:
        seen = (await resp.json())["headers"]
    assert seen["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"


ENCODERS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
}


def encoded_app(body: bytes) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        encoding = request.match_info["enc"]
        data = ENCODERS[encoding](body) if encoding in ENCODERS else body
        if encoding == "raw-deflate":
            obj = zlib.compressobj(wbits=-zlib.MAX_WBITS)
            data = obj.compress(body) + obj.flush()
            encoding = "deflate"
        return web.Response(body=data, headers={"Content-Encoding": encoding,
                                                "Content-Type": "application/json"})

    app = web.Application()
    app.router.add_get("/{enc}", handler)
    return app


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "raw-deflate"])
async def test_compressed_bodies_are_decoded(start_upstream, start_gateway, encoding):
    body = b'[' + b",".join(b'{"name":"n%d"}' % i for i in range(2000)) + b']'
    gw = await start_gateway(await start_upstream(encoded_app(body)))
    async with aiohttp.ClientSession(auto_decompress=False) as client, client.get(
        gw.url + "/" + encoding
    ) as resp:
        assert resp.status == 200
        assert "Content-Encoding" not in resp.headers
        assert await resp.read() == body


async def test_gzip_bomb_is_refused(start_upstream, start_gateway):
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 200 * 1024

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip"})

    app = web.Application()
    app.router.add_get("/bomb", handler)
    gw = await start_gateway(await start_upstream(app))
    async with aiohttp.ClientSession() as client, client.get(gw.url + "/bomb") as resp:
        assert resp.status == 502
        body = await resp.json()
    assert body["error"] == "decompression_limit"
    rendered = gw.app[GATEWAY].metrics.render().decode()
    assert 'dlpgw_body_rejected_total{direction="response",reason="decompression_limit"} 1.0' \
        in rendered


async def test_corrupt_gzip_is_a_clear_502(start_upstream, start_gateway):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=b"\x1f\x8b\x08\x00garbage", headers={"Content-Encoding": "gzip"})

    app = web.Application()
    app.router.add_get("/x", handler)
    gw = await start_gateway(await start_upstream(app))
    async with aiohttp.ClientSession() as client, client.get(gw.url + "/x") as resp:
        assert resp.status == 502
        assert (await resp.json())["error"] == "undecodable_body"


async def test_upstream_down_is_502(start_gateway, unused_tcp_port):
    gw = await start_gateway(f"http://127.0.0.1:{unused_tcp_port}")
    async with aiohttp.ClientSession() as client, client.get(gw.url + "/x") as resp:
        assert resp.status == 502
        body = await resp.json()
    assert body["error"] == "upstream_unreachable"
    assert body["request_id"] == resp.headers["X-Request-Id"]


async def test_slow_upstream_is_504(start_upstream, start_gateway):
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/slow", slow)
    url = await start_upstream(app)
    gw = await start_gateway(
        url, upstreams={"crm": {"url": url, "timeouts": {"read": 0.3, "connect": 1}}}
    )
    async with aiohttp.ClientSession() as client, client.get(gw.url + "/slow") as resp:
        assert resp.status == 504
        assert (await resp.json())["error"] == "upstream_timeout"


async def test_upstream_reset_mid_body_breaks_the_client_connection(start_upstream, start_gateway):
    async def reset(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Length": str(1024 * 1024)})
        await resp.prepare(request)
        await resp.write(b"x" * 100_000)
        await asyncio.sleep(0.05)
        assert request.transport is not None
        request.transport.abort()
        return resp

    app = web.Application()
    app.router.add_get("/reset", reset)
    gw = await start_gateway(await start_upstream(app))
    async with aiohttp.ClientSession() as client, client.get(gw.url + "/reset") as resp:
        assert resp.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()
    rendered = gw.app[GATEWAY].metrics.render().decode()
    assert 'dlpgw_upstream_errors_total{reason="upstream_reset"} 1.0' in rendered


async def test_client_abort_mid_body_releases_everything(start_upstream, start_gateway):
    upstream_done = asyncio.Event()

    async def endless(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        try:
            for _ in range(10_000):
                await resp.write(b"y" * 65536)
                await asyncio.sleep(0.001)
        finally:
            upstream_done.set()
        return resp

    app = web.Application()
    app.router.add_get("/endless", endless)
    gw = await start_gateway(await start_upstream(app))
    metrics = gw.app[GATEWAY].metrics
    async with aiohttp.ClientSession() as client:
        resp = await client.get(gw.url + "/endless")
        await resp.content.readexactly(200_000)
        resp.close()
    await asyncio.wait_for(upstream_done.wait(), timeout=5)
    for _ in range(100):
        if metrics.in_flight._value.get() == 0:
            break
        await asyncio.sleep(0.02)
    assert metrics.in_flight._value.get() == 0
    rendered = metrics.render().decode()
    assert "dlpgw_client_aborts_total 1.0" in rendered
    assert 'code="aborted"' in rendered


async def test_declared_oversized_request_is_413_and_never_forwarded(start_upstream, start_gateway):
    calls = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(1)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/upload", handler)
    gw = await start_gateway(await start_upstream(app), limits={"request_body_bytes": 1000})
    async with aiohttp.ClientSession() as client, client.post(
        gw.url + "/upload", data=b"z" * 5000
    ) as resp:
        assert resp.status == 413
        assert (await resp.json())["error"] == "request_too_large"
    assert calls == []


async def test_chunked_oversized_request_is_413(start_upstream, start_gateway):
    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/upload", handler)
    gw = await start_gateway(await start_upstream(app), limits={"request_body_bytes": 1000})

    async def chunks():
        for _ in range(10):
            yield b"z" * 500

    async with aiohttp.ClientSession() as client, client.post(
        gw.url + "/upload", data=chunks()
    ) as resp:
        assert resp.status == 413


async def test_routes_by_prefix_and_host(start_upstream, start_gateway, tmp_path):
    def named(name: str):
        async def handler(request: web.Request) -> web.Response:
            return web.Response(text=name + " " + request.raw_path)

        return handler

    urls = {}
    for name in ("a", "b", "c"):
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", named(name))
        urls[name] = await start_upstream(app)
    gw = await start_gateway(
        urls,
        routes=[
            {"name": "a", "prefix": "/", "upstream": "a"},
            {"name": "b", "prefix": "/reports", "upstream": "b", "strip_prefix": True},
            {"name": "c", "prefix": "/", "host": "crm.example", "upstream": "c"},
        ],
    )
    async with aiohttp.ClientSession() as client:
        for path, host, expected in [
            ("/customers", None, "a /customers"),
            ("/reports/q1", None, "b /q1"),
            ("/reportsx", None, "a /reportsx"),
            ("/customers", "crm.example", "c /customers"),
        ]:
            headers = {"Host": host} if host else {}
            async with client.get(gw.url + path, headers=headers) as resp:
                assert await resp.text() == expected


async def test_admin_prefix_is_never_forwarded(start_upstream, start_gateway):
    calls = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(request.raw_path)
        return web.Response(text="upstream")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    gw = await start_gateway(await start_upstream(app))
    async with aiohttp.ClientSession() as client:
        for path in ("/_dlp/healthz", "/_dlp/unknown", "/_dlp/", "/a/../_dlp/x", "/%5Fdlp/y"):
            async with client.get(URL(gw.url + path, encoded=True)) as resp:
                assert resp.status in (200, 404), path
                assert await resp.text() != "upstream"
    assert calls == []


@pytest.mark.parametrize("path", ["/a/%2e%2e/%2e%2e/etc", "/a%2fb", "/a%00b", "/a/%252e%252e/b"])
async def test_smuggling_paths_are_400(start_upstream, start_gateway, path):
    gw = await start_gateway(await start_upstream(echo_app()))
    async with aiohttp.ClientSession() as client, client.get(
        URL(gw.url + path, encoded=True)
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"] == "bad_path"


async def test_dot_segments_are_resolved_before_forwarding(start_upstream, start_gateway):
    gw = await start_gateway(await start_upstream(echo_app()))
    async with aiohttp.ClientSession() as client, client.get(
        URL(gw.url + "/api/projects/proj1/%2e%2e/proj2//customers", encoded=True)
    ) as resp:
        assert (await resp.json())["path"] == "/api/projects/proj2/customers"
