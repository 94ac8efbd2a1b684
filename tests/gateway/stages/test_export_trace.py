"""Approved exports carry a per-export watermark that traces a leaked file back to them."""

from __future__ import annotations

import io
import json

import aiohttp
import pytest
from openpyxl import Workbook, load_workbook

from detectors.watermark import ALT_GLYPHS, GLYPH, Mark, read_marks
from gateway.cli.demo import demo_config
from gateway.cli.trace import file_texts, verdict
from gateway.config import parse_config
from gateway.demo.crm import create_crm_app
from gateway.detection import derive_key
from gateway.runtime import GATEWAY
from reports.export_trace import ExportTraceStore

CSV = "/api/projects/proj1/customers/export.csv"
XLSX = "/api/projects/proj1/customers/export.xlsx"
LIST = "/api/projects/proj1/customers"
ROWS = 30


@pytest.fixture
async def gw(start_upstream, start_gateway, tmp_path):
    crm = await start_upstream(create_crm_app(seed=7, per_project=ROWS))
    data = demo_config(int(crm.rsplit(":", 1)[1]), 0, str(tmp_path / "s"))
    data["exports"] = {"max_records": 10}
    return await start_gateway(crm, config=parse_config(data, env={}))


async def call(gw, method, path, user, **kwargs):
    headers = {"X-API-Key": f"demo-{user}", **kwargs.pop("headers", {})}
    async with aiohttp.ClientSession() as client, client.request(
        method, gw.url + path, headers=headers, **kwargs
    ) as resp:
        return resp.status, await resp.read()


async def approved_export(gw, path, query="", user="bob"):
    status, body = await call(gw, "POST", "/_dlp/approvals", user, json={
        "method": "GET", "path": path, "query": query, "reason": "quarterly review",
        "max_records": 300})
    assert status == 201, body
    approval = json.loads(body)["id"]
    status, body = await call(gw, "POST", f"/_dlp/approvals/{approval}/approve", "carol")
    assert status == 200, body
    target = f"{path}?{query}" if query else path
    status, body = await call(gw, "GET", target, user, headers={"X-DLP-Approval": approval})
    assert status == 200, body
    return approval, body


def marks_of(data: bytes) -> set[Mark]:
    return set().union(*(read_marks(text) for text in file_texts(data)))


def trace(gw, data: bytes):
    running = gw.app[GATEWAY]
    traces = ExportTraceStore(running.database).list()
    secret = derive_key(gw.config.secrets.hmac_key.encode(), "watermark")
    return verdict(marks_of(data), traces, secret)


def normalise(data: bytes) -> bytes:
    text = data.decode("utf-8")
    for glyph in ALT_GLYPHS:
        text = text.replace(glyph, GLYPH)
    return text.encode("utf-8")


def csv_rows(data: bytes, rows: int) -> bytes:
    """The first ``rows`` data rows, without the header (as pasted from a spreadsheet)."""
    return "\r\n".join(data.decode("utf-8-sig").split("\r\n")[1 : rows + 1]).encode()


def json_rows(data: bytes, rows: int) -> bytes:
    return json.dumps(json.loads(data)[-rows:], ensure_ascii=False).encode()


def xlsx_rows(data: bytes, rows: int) -> bytes:
    source = load_workbook(io.BytesIO(data)).active
    book = Workbook()
    for row in list(source.iter_rows(values_only=True))[1 : rows + 1]:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize(("path", "query", "cut"), [
    (CSV, "", csv_rows), (XLSX, "", xlsx_rows), (LIST, "limit=30", json_rows)])
async def test_each_format_traces_back_whole_and_in_part(gw, path, query, cut):
    approval, body = await approved_export(gw, path, query)
    found = trace(gw, body)
    assert found.trace is not None and found.trace.approval_id == approval
    assert found.confidence > 0.999999
    assert found.trace.records >= ROWS and found.trace.requester.startswith("hmac:")
    part = trace(gw, cut(body, 3))
    assert part.trace is not None and part.trace.approval_id == approval
    assert part.confidence > 0.999


async def test_a_file_from_another_export_does_not_match(gw):
    first, body_a = await approved_export(gw, CSV)
    second, body_b = await approved_export(gw, CSV)
    assert body_a != body_b
    assert normalise(body_a) == normalise(body_b), "only mask glyphs may differ"
    assert trace(gw, body_a).trace.approval_id == first
    assert trace(gw, body_b).trace.approval_id == second
    other = await approved_export(gw, XLSX)
    assert trace(gw, other[1]).trace.approval_id == other[0]


async def test_unwatermarked_files_match_nothing(gw):
    await approved_export(gw, CSV)
    status, page = await call(gw, "GET", LIST + "?limit=10", "bob")
    assert status == 200 and GLYPH.encode() in page
    unmarked = trace(gw, page)
    assert unmarked.trace is None or unmarked.confidence < 0.5
    assert not any(glyph.encode() in page for glyph in ALT_GLYPHS)
    plain = trace(gw, b"id,name\n1,nothing masked here\n")
    assert plain.glyphs == 0 and plain.confidence == 0.0


async def test_no_clear_value_changes(gw):
    _, body = await approved_export(gw, CSV)
    lines = normalise(body).decode("utf-8-sig").split("\r\n")
    marked = body.decode("utf-8-sig").split("\r\n")
    assert lines[0] == marked[0]
    for clean, dirty in zip(lines, marked, strict=True):
        assert len(clean) == len(dirty)
        assert all(a == b or (a == GLYPH and b in ALT_GLYPHS)
                   for a, b in zip(clean, dirty, strict=True))


async def test_an_export_that_cannot_be_recorded_is_refused(gw, monkeypatch):
    from gateway.stages.export_guard import ExportGuardStage

    guard = next(s for s in gw.app[GATEWAY].pipeline.stages
                 if isinstance(s, ExportGuardStage))

    def broken(trace):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(guard._track.traces, "record", broken)
    status, body = await call(gw, "POST", "/_dlp/approvals", "bob", json={
        "method": "GET", "path": CSV, "reason": "audit", "max_records": 300})
    approval = json.loads(body)["id"]
    await call(gw, "POST", f"/_dlp/approvals/{approval}/approve", "carol")
    status, body = await call(gw, "GET", CSV, "bob", headers={"X-DLP-Approval": approval})
    assert status == 503 and json.loads(body)["error"] == "stage_failed"
    assert b"C1000001" not in body


async def test_a_streamed_export_is_watermarked_too(start_upstream, start_gateway, tmp_path):
    from aiohttp import web

    from gateway.demo.data import generate_customers
    from gateway.demo.exports import csv_text

    payload = csv_text(generate_customers("proj1", ROWS, 7)).encode()

    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="proj1.csv"'})
        await resp.prepare(request)
        for start in range(0, len(payload), 4096):
            await resp.write(payload[start : start + 4096])
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get(CSV, chunked)
    upstream = await start_upstream(app)
    data = demo_config(int(upstream.rsplit(":", 1)[1]), 0, str(tmp_path / "s"))
    streamed = await start_gateway(upstream, config=parse_config(data, env={}))
    approval, body = await approved_export(streamed, CSV)
    found = trace(streamed, body)
    assert found.trace is not None and found.trace.approval_id == approval
    assert found.confidence > 0.999999
