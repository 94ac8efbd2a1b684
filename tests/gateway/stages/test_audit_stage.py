from __future__ import annotations

import asyncio
import json

import aiohttp
from aiohttp import web

from gateway.runtime import GATEWAY
from reports.audit_store import iter_entries

PHONE = "13812345678"
EMAIL = "zhang.wei@example.com"
ID_NUMBER = "11010519491231002X"


async def audit_entries(gateway) -> list[dict]:
    """Request entries, once the writer thread has committed them."""
    await asyncio.to_thread(gateway.audit_log.flush)
    return [{**json.loads(e.payload), "actor": e.actor, "at": e.at, "seq": e.seq}
            for e in iter_entries(gateway.audit_log.db) if e.kind == "request"]


async def test_one_entry_per_request_without_bodies_or_raw_identifiers(
    start_upstream, start_gateway
):
    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"phone": PHONE, "id_number": ID_NUMBER})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    gw = await start_gateway(await start_upstream(app))
    async with aiohttp.ClientSession() as client:
        async with client.get(gw.url + f"/api/customers/{ID_NUMBER}?phone={PHONE}") as resp:
            assert resp.status == 200
        async with client.post(gw.url + f"/api/by-email/{EMAIL}", data=f"phone={PHONE}") as resp:
            assert resp.status == 200
        async with client.get(gw.url + "/a/%2fb") as resp:
            assert resp.status == 400
    lines = await audit_entries(gw.app[GATEWAY])
    text = json.dumps(lines, ensure_ascii=False)
    assert len(lines) == 3
    assert [line["status"] for line in lines] == [200, 200, 400]
    assert lines[0]["method"] == "GET" and lines[0]["route"] == "default"
    assert lines[0]["path"].startswith("/api/customers/{hmac:")
    assert lines[0]["query_fp"].startswith("hmac:")
    assert lines[1]["query_fp"] is None
    assert lines[2]["denial"] == "bad_path" and lines[2]["route"] == "unmatched"
    assert lines[0]["bytes"] > 0
    assert lines[0]["actor"] is None and lines[0]["at"].endswith("Z")
    assert [line["seq"] for line in lines] == [1, 2, 3]
    for raw in (PHONE, EMAIL, ID_NUMBER, "zhang.wei"):
        assert raw not in text


async def test_fingerprints_are_stable_for_the_same_key(start_upstream, start_gateway):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    gw = await start_gateway(await start_upstream(app))
    async with aiohttp.ClientSession() as client:
        for _ in range(2):
            async with client.get(gw.url + "/c/1234567?q=x") as resp:
                assert resp.status == 200
    lines = await audit_entries(gw.app[GATEWAY])
    assert lines[0]["path"] == lines[1]["path"] != "/c/1234567"
    assert lines[0]["query_fp"] == lines[1]["query_fp"]
