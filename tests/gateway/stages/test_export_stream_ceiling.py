"""A streamed export (no Content-Length) is stopped at its approval's record ceiling."""

from __future__ import annotations

import json

import aiohttp
import pytest
from aiohttp import web

from gateway.cli.demo import demo_config
from gateway.config import parse_config
from gateway.runtime import GATEWAY
from reports.incident_store import IncidentQuery

CSV = "/api/projects/proj1/customers/export.csv"
ROWS = 400


def streaming_crm() -> web.Application:
    """``?rows=N``: a chunked CSV of N rows (no Content-Length: counted while streamed)."""

    async def export(request: web.Request) -> web.StreamResponse:
        rows = int(request.query.get("rows", ROWS))
        resp = web.StreamResponse(headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="customers.csv"'})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(b"customer_no,name,phone\r\n")
        for i in range(rows):
            await resp.write(f"C{i:06d},Customer {i},1380013{i % 10000:04d}\r\n".encode())
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get(CSV, export)
    return app


@pytest.fixture
async def gw(start_upstream, start_gateway, tmp_path):
    crm = await start_upstream(streaming_crm())
    data = demo_config(int(crm.rsplit(":", 1)[1]), 0, str(tmp_path / "s"))
    return await start_gateway(crm, config=parse_config(data, env={}))


async def call(gw, method, path, user, **kwargs):
    headers = {"X-API-Key": f"demo-{user}", **kwargs.pop("headers", {})}
    async with aiohttp.ClientSession() as client, client.request(
            method, gw.url + path, headers=headers, **kwargs) as resp:
        return resp.status, await resp.read()


async def approve(gw, max_records: int, query: str = "") -> str:
    status, body = await call(gw, "POST", "/_dlp/approvals", "bob", json={
        "method": "GET", "path": CSV, "query": query, "reason": "audit sample",
        "max_records": max_records})
    assert status == 201, body
    approval: str = json.loads(body)["id"]
    status, body = await call(gw, "POST", f"/_dlp/approvals/{approval}/approve", "carol")
    assert status == 200, body
    return approval


async def test_a_streamed_export_within_its_ceiling_is_delivered_whole(gw):
    approval = await approve(gw, ROWS)
    status, body = await call(gw, "GET", CSV, "bob", headers={"X-DLP-Approval": approval})
    assert status == 200
    lines = body.decode("utf-8-sig").strip().splitlines()
    assert len(lines) == ROWS + 1


async def test_a_small_streamed_export_past_its_ceiling_is_refused_before_sending(gw):
    approval = await approve(gw, 50)
    status, _ = await call(gw, "GET", CSV, "bob", headers={"X-DLP-Approval": approval})
    assert status == 503
    await assert_overrun_recorded(gw)


async def test_a_large_streamed_export_past_its_ceiling_is_cut_off_mid_stream(gw):
    # ~1.5 MB: far past the handler's read-ahead, so headers are sent before the overrun.
    approval = await approve(gw, 20_000, "rows=50000")
    with pytest.raises(aiohttp.ClientError):
        await call(gw, "GET", CSV + "?rows=50000", "bob",
                   headers={"X-DLP-Approval": approval})
    await assert_overrun_recorded(gw)


async def assert_overrun_recorded(gw) -> None:
    state = gw.app[GATEWAY]
    found = state.incidents.search(IncidentQuery(kind="export_blocked"))
    assert len(found) == 1
    assert found[0].detail.get("cause") == "approval_overrun" or any(
        "approval_overrun" in str(v) for v in found[0].detail.values())
    metrics = state.metrics.render().decode()
    assert 'dlpgw_exports_blocked_total{rule="approval_overrun"} 1.0' in metrics
