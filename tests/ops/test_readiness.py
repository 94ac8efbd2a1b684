"""Once a graceful shutdown begins, readiness turns 503 ``draining`` (liveness does not) and
every response tells keep-alive clients to reconnect elsewhere."""

from __future__ import annotations

import aiohttp
from aiohttp import web


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({})


async def test_readyz_says_draining_once_shutdown_begins(start_upstream, start_gateway):
    app = web.Application()
    app.router.add_get("/{tail:.*}", _ok)
    gw = await start_gateway(await start_upstream(app), stages=["metrics"])
    async with aiohttp.ClientSession() as client:
        async with client.get(gw.url + "/_dlp/readyz") as resp:
            assert resp.status == 200
        async with client.get(gw.url + "/customers") as resp:
            assert resp.status == 200 and "Connection" not in resp.headers
        await gw.app.shutdown()
        async with client.get(gw.url + "/customers") as resp:
            assert resp.status == 200 and resp.headers["Connection"] == "close"
        async with client.get(gw.url + "/_dlp/readyz") as resp:
            assert resp.status == 503
            assert (await resp.json())["status"] == "draining"
        async with client.get(gw.url + "/_dlp/healthz") as resp:
            assert resp.status == 200
