from __future__ import annotations

import aiohttp
from aiohttp import web

from gateway.counters_redis import RedisCounters
from gateway.runtime import GATEWAY
from reports.database import open_database


async def test_health_ready_and_metrics(start_upstream, start_gateway):
    app = web.Application()
    gw = await start_gateway(await start_upstream(app))
    async with aiohttp.ClientSession() as client:
        async with client.get(gw.url + "/_dlp/healthz") as resp:
            assert resp.status == 200 and (await resp.json())["status"] == "ok"
        async with client.get(gw.url + "/_dlp/readyz") as resp:
            body = await resp.json()
            assert resp.status == 200, body
            assert body["checks"] == {"upstream:crm": "ok", "database": "ok",
                                      "audit_log": "ok", "detectors": "ok"}
        async with client.get(gw.url + "/_dlp/metrics") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain")
            text = await resp.text()
    assert "dlpgw_build_info" in text
    assert "dlpgw_http_requests_in_flight" in text


async def test_readyz_fails_when_an_upstream_is_down(start_gateway, unused_tcp_port):
    gw = await start_gateway(f"http://127.0.0.1:{unused_tcp_port}")
    async with aiohttp.ClientSession() as client, client.get(gw.url + "/_dlp/readyz") as resp:
        assert resp.status == 503
        body = await resp.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["upstream:crm"] == "unreachable"


async def test_readyz_fails_when_the_shared_stores_are_down(start_upstream, start_gateway,
                                                            unused_tcp_port):
    gw = await start_gateway(await start_upstream(web.Application()))
    state = gw.app[GATEWAY]
    database, counters = state.database, state.counters
    # Real failures: a database nobody listens on, a Redis nobody listens on.
    state.database = open_database(
        f"postgresql+psycopg://postgres@127.0.0.1:{unused_tcp_port}/test?connect_timeout=1",
        migrate=False)
    state.counters = RedisCounters.from_url(f"redis://127.0.0.1:{unused_tcp_port}/0", "t:")
    try:
        async with aiohttp.ClientSession() as client, client.get(
                gw.url + "/_dlp/readyz") as resp:
            assert resp.status == 503
            body = await resp.json()
    finally:
        await state.counters.close()
        state.database.close()
        state.database, state.counters = database, counters
    assert body["status"] == "not_ready"
    assert body["checks"]["database"].startswith(("unreachable", "timeout"))
    assert body["checks"]["counters"].startswith(("unreachable", "timeout"))


async def test_admin_prefix_is_configurable(start_upstream, start_gateway):
    gw = await start_gateway(await start_upstream(web.Application()),
                             admin={"prefix": "/__ops"})
    async with aiohttp.ClientSession() as client:
        async with client.get(gw.url + "/__ops/healthz") as resp:
            assert resp.status == 200
        async with client.get(gw.url + "/_dlp/healthz") as resp:
            assert resp.status == 404
