"""pii_mask through a live gateway in front of the real demo CRM."""

from __future__ import annotations

import io
import json
import logging

import aiohttp
import openpyxl
import pytest
from aiohttp import web

from gateway.demo.crm import create_crm_app
from gateway.demo.data import generate_customers, non_pii_values, pii_values
from gateway.exchange import Exchange, Principal
from gateway.runtime import GATEWAY
from reports.audit_store import iter_entries

SEED, PER_PROJECT = 7, 40
CUSTOMERS = generate_customers("proj1", PER_PROJECT, SEED)


def raw_values(customers=CUSTOMERS) -> list[str]:
    return [v for c in customers for vals in pii_values(c).values() for v in vals]


@pytest.fixture
async def crm(start_upstream) -> str:
    return await start_upstream(create_crm_app(seed=SEED, per_project=PER_PROJECT))


async def get(url: str, **kwargs) -> tuple[aiohttp.ClientResponse, bytes]:
    async with aiohttp.ClientSession() as client, client.get(url, **kwargs) as resp:
        return resp, await resp.read()


async def test_json_list_is_masked_and_headers_fixed(crm, start_gateway):
    gw = await start_gateway(crm)
    resp, body = await get(gw.url + "/api/projects/proj1/customers?limit=40")
    assert resp.status == 200
    text = body.decode()
    leaked = [v for v in raw_values() if v in text]
    assert leaked == []
    for customer in CUSTOMERS:
        for value in non_pii_values(customer)[:2]:
            assert value in text
    assert int(resp.headers["X-DLP-Masked"]) >= 40 * 6
    assert int(resp.headers["Content-Length"]) == len(body)
    assert "Content-Encoding" not in resp.headers
    assert "ETag" not in resp.headers
    rendered = gw.app[GATEWAY].metrics.render().decode()
    assert 'dlpgw_pii_findings_total{action="masked",entity="CN_RESIDENT_ID"}' in rendered


async def test_export_csv_and_xlsx_are_masked(crm, start_gateway):
    gw = await start_gateway(crm)
    resp, body = await get(gw.url + "/api/projects/proj1/customers/export.csv")
    assert resp.status == 200
    text = body.decode("utf-8-sig")
    assert [v for v in raw_values() if v in text] == []
    assert text.count("\n") >= PER_PROJECT
    resp, body = await get(gw.url + "/api/projects/proj1/customers/export.xlsx")
    assert resp.status == 200
    book = openpyxl.load_workbook(io.BytesIO(body))
    cells = " ".join(str(c.value) for row in book.active.iter_rows() for c in row)
    assert [v for v in raw_values() if v in cells] == []
    assert book.active.cell(1, 1).font.bold


async def test_html_and_text_are_masked(crm, start_gateway):
    gw = await start_gateway(crm)
    resp, body = await get(gw.url + "/customers?project=proj1")
    assert resp.status == 200
    page = body.decode()
    assert "<table" in page
    assert [v for v in raw_values() if v in page] == []
    resp, body = await get(gw.url + "/api/notes/proj1")
    notes = body.decode()
    ids_and_phones = [v for c in CUSTOMERS for e, vals in pii_values(c).items()
                      if e in ("CN_RESIDENT_ID", "CN_MOBILE", "EMAIL_ADDRESS") for v in vals]
    assert [v for v in ids_and_phones if v in notes] == []


class AsRole:
    name = "test_principal"
    critical = True

    def __init__(self, roles: tuple[str, ...]) -> None:
        self.roles = roles

    async def on_request(self, ex: Exchange) -> None:
        ex.principal = Principal(user="tester", roles=self.roles)

    async def on_response(self, ex: Exchange) -> None:
        return None


@pytest.mark.parametrize(
    ("roles", "phone_visible", "id_visible"),
    [((), False, False), (("customer_manager",), True, False), (("external_partner",), False,
                                                                  False)],
)
async def test_masking_depends_on_the_callers_role(crm, start_gateway, roles, phone_visible,
                                                   id_visible):
    gw = await start_gateway(crm, masking={
        "roles": {"customer_manager": {"CN_MOBILE": "keep"},
                  "external_partner": {"*": "redact"}}})
    pipeline = gw.app[GATEWAY].pipeline
    pipeline.stages = (AsRole(roles), *pipeline.stages)
    customer = next(c for c in CUSTOMERS if c.locale == "zh_CN")
    _, body = await get(gw.url + f"/api/projects/proj1/customers/{customer.id}")
    doc = json.loads(body)
    assert (doc["phone"] == customer.phone) is phone_visible
    assert (customer.id_number in body.decode()) is id_visible
    if roles == ("external_partner",):
        assert doc["name"] == "" and doc["id_number"] == ""


def app_returning(body: bytes, content_type: str, extra: dict | None = None) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        headers = {"Content-Type": content_type, **(extra or {})}
        return web.Response(body=body, headers=headers)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    return app


async def test_unknown_types_pass_and_are_counted_or_are_blocked(start_upstream, start_gateway):
    url = await start_upstream(app_returning(b"\x89PNG 13812345678", "image/png"))
    gw = await start_gateway(url)
    resp, body = await get(gw.url + "/img")
    assert resp.status == 200 and body.startswith(b"\x89PNG")
    rendered = gw.app[GATEWAY].metrics.render().decode()
    assert 'dlpgw_inspection_skipped_total{reason="unknown_type"} 1.0' in rendered
    strict = await start_gateway(url, routes=[{"name": "default", "upstream": "crm",
                                               "inspection": {"unknown_types": "block"}}])
    resp, body = await get(strict.url + "/img")
    assert resp.status == 502
    assert b"13812345678" not in body


async def test_oversize_fails_closed_unless_the_route_passes_it(start_upstream, start_gateway):
    payload = ('[' + ",".join(['{"phone":"13812345678"}'] * 2000) + ']').encode()
    url = await start_upstream(app_returning(payload, "application/json"))
    gw = await start_gateway(url, limits={"inspect_buffer_bytes": 10_000})
    resp, body = await get(gw.url + "/big")
    assert resp.status == 502
    assert b"13812345678" not in body
    lax = await start_gateway(url, limits={"inspect_buffer_bytes": 10_000}, routes=[
        {"name": "default", "upstream": "crm", "inspection": {"oversize": "pass"}}])
    resp, body = await get(lax.url + "/big")
    assert resp.status == 200
    rendered = lax.app[GATEWAY].metrics.render().decode()
    assert 'dlpgw_inspection_skipped_total{reason="oversize"} 1.0' in rendered


@pytest.mark.parametrize(
    ("payload", "content_type"),
    [
        (b'{"phone": "13812345678", broken', "application/json"),
        (b'{"note": "\xff\xfe 13812345678"}', "application/json; charset=utf-8"),
        (b"id,phone\n1,13812345678\n", "application/json"),
        (b"phone=13812345678&x=1", "text/plain"),
    ],
)
async def test_bad_bodies_never_pass_raw(start_upstream, start_gateway, payload, content_type):
    url = await start_upstream(app_returning(payload, content_type))
    gw = await start_gateway(url)
    resp, body = await get(gw.url + "/x")
    assert resp.status == 200
    assert b"13812345678" not in body
    assert b"138****5678" in body
    strict = await start_gateway(url, routes=[{"name": "default", "upstream": "crm",
                                               "inspection": {"parse_errors": "block"}}])
    resp, body = await get(strict.url + "/x")
    assert b"13812345678" not in body


async def test_truncated_xlsx_is_refused(start_upstream, start_gateway):
    book = openpyxl.Workbook()
    book.active.append(["phone"])
    book.active.append(["13812345678"])
    buf = io.BytesIO()
    book.save(buf)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    url = await start_upstream(app_returning(buf.getvalue()[:-100], xlsx))
    gw = await start_gateway(url)
    resp, body = await get(gw.url + "/x.xlsx")
    assert resp.status == 502
    assert json.loads(body)["error"] == "unparseable_response"


async def test_detector_failure_fails_closed_with_503(crm, start_gateway, monkeypatch):
    gw = await start_gateway(crm)

    def broken(*args, **kwargs):
        raise RuntimeError("detector exploded on 13812345678")

    monkeypatch.setattr(gw.app[GATEWAY].engine, "masker", broken)
    resp, body = await get(gw.url + "/api/projects/proj1/customers?limit=5")
    assert resp.status == 503
    assert b"13812345678" not in body
    assert b"stage_failed" in body


async def test_detector_timeout_fails_closed(start_upstream, start_gateway, monkeypatch):
    from detectors import document

    payload = ('[' + ",".join(['{"phone":"13812345678"}'] * 5000) + ']').encode()
    url = await start_upstream(app_returning(payload, "application/json"))
    gw = await start_gateway(url, detection={"timeout_seconds": 0.05, "inline_bytes": 1000})
    original = document.mask_document

    def slow(*args, **kwargs):
        import time

        time.sleep(0.5)
        return original(*args, **kwargs)

    monkeypatch.setattr("gateway.stages.pii_mask.mask_document", slow)
    resp, body = await get(gw.url + "/x")
    assert resp.status == 503
    assert b"13812345678" not in body


async def test_range_requests_are_not_forwarded(start_upstream, start_gateway):
    seen = {}

    async def handler(request: web.Request) -> web.Response:
        seen.update(request.headers)
        return web.json_response({"phone": "13812345678"})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    gw = await start_gateway(await start_upstream(app))
    resp, body = await get(gw.url + "/x", headers={"Range": "bytes=0-10", "If-Range": "x"})
    assert resp.status == 200
    assert "Range" not in seen and "If-Range" not in seen
    assert b"138****5678" in body


async def test_no_raw_pii_in_logs_at_any_level(crm, start_gateway, caplog):
    caplog.set_level(logging.DEBUG)
    gw = await start_gateway(crm)
    for path in ("/api/projects/proj1/customers?limit=40", "/api/notes/proj1",
                 "/api/projects/proj1/customers/export.csv", "/customers?project=proj1"):
        resp, _ = await get(gw.url + path)
        assert resp.status == 200
    audit_log = gw.app[GATEWAY].audit_log
    audit_log.flush()
    logged = caplog.text + "".join(e.payload for e in iter_entries(audit_log.db))
    assert [v for v in raw_values() if v in logged] == []


async def test_self_test_failure_makes_readiness_fail(crm, tmp_path, monkeypatch):
    from aiohttp.test_utils import TestServer

    from gateway.app import build_gateway, create_app
    from tests.conftest import make_config

    config = make_config({"crm": crm}, tmp_path)
    gateway = build_gateway(config)
    monkeypatch.setattr(gateway.engine.scanner, "scan", lambda text, context="": [])
    server = TestServer(create_app(config, gateway), host="127.0.0.1")
    await server.start_server()
    try:
        resp, body = await get(str(server.make_url("/_dlp/readyz")))
        assert resp.status == 503
        assert b"self-test failed" in body and b"CN_MOBILE" in body
    finally:
        await server.close()
