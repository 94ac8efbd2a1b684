"""The demo's export story through a live gateway: block, request, approve, use once."""

from __future__ import annotations

import json

import aiohttp
import pytest

from gateway.cli.demo import demo_config
from gateway.config import parse_config
from gateway.demo.crm import create_crm_app
from gateway.demo.data import generate_customers, pii_values
from gateway.runtime import GATEWAY

EXPORT = "/api/projects/proj1/customers/export.csv"


@pytest.fixture
async def demo_gateway(start_upstream, start_gateway, tmp_path):
    crm = await start_upstream(create_crm_app(seed=7, per_project=30))
    config = parse_config(demo_config(int(crm.rsplit(":", 1)[1]), 0, str(tmp_path / "s")),
                          env={})
    return await start_gateway(crm, config=config)


async def call(gw, method: str, path: str, user: str, **kwargs):
    headers = {"X-API-Key": f"demo-{user}", **kwargs.pop("headers", {})}
    async with aiohttp.ClientSession() as client, client.request(
        method, gw.url + path, headers=headers, **kwargs
    ) as resp:
        return resp.status, await resp.read()


async def request_approval(gw, user="bob", path=EXPORT, max_records=300):
    status, body = await call(gw, "POST", "/_dlp/approvals", user, json={
        "method": "GET", "path": path, "reason": "quarterly review",
        "max_records": max_records})
    assert status == 201, body
    return json.loads(body)["id"]


async def test_the_whole_story(demo_gateway):
    gw = demo_gateway
    status, body = await call(gw, "GET", EXPORT, "bob")
    assert status == 403
    refusal = json.loads(body)
    assert refusal["error"] == "approval_required" and refusal["rule"] == "file_download"
    assert refusal["approval"]["body"]["path"] == EXPORT
    assert b"C1000001" not in body

    approval = await request_approval(gw)
    status, body = await call(gw, "POST", f"/_dlp/approvals/{approval}/approve", "bob")
    assert status == 403
    status, body = await call(gw, "POST", f"/_dlp/approvals/{approval}/approve", "carol",
                              json={"comment": "ok for Q4"})
    assert status == 200, body

    headers = {"X-DLP-Approval": approval}
    status, body = await call(gw, "GET", EXPORT, "bob", headers=headers)
    assert status == 200
    text = body.decode("utf-8-sig")
    assert "C1000001" in text
    raw_ids = [v for c in generate_customers("proj1", 30, 7)
               for v in pii_values(c).get("CN_RESIDENT_ID", [])]
    assert raw_ids and not any(v in text for v in raw_ids)

    status, body = await call(gw, "GET", EXPORT, "bob", headers=headers)
    assert status == 403 and json.loads(body)["cause"] == "used"
    rendered = gw.app[GATEWAY].metrics.render().decode()
    assert 'dlpgw_exports_blocked_total{rule="file_download"} 1.0' in rendered


@pytest.mark.parametrize(
    ("user", "path", "cause"),
    [("admin", EXPORT, "wrong_requester"),
     ("bob", EXPORT + "?charset=gbk", "wrong_request")],
)
async def test_an_approval_covers_only_its_own_request(demo_gateway, user, path, cause):
    approval = await request_approval(demo_gateway)
    status, _ = await call(demo_gateway, "POST", f"/_dlp/approvals/{approval}/approve", "carol")
    assert status == 200
    status, body = await call(demo_gateway, "GET", path, user,
                              headers={"X-DLP-Approval": approval})
    assert status == 403
    assert json.loads(body)["cause"] == cause
    status, _ = await call(demo_gateway, "GET", EXPORT, "bob",
                           headers={"X-DLP-Approval": approval})
    assert status == 200, "a refused use must not consume the approval"


async def test_more_records_than_approved_is_refused(demo_gateway):
    approval = await request_approval(demo_gateway, max_records=5)
    await call(demo_gateway, "POST", f"/_dlp/approvals/{approval}/approve", "carol")
    status, body = await call(demo_gateway, "GET", EXPORT, "bob",
                              headers={"X-DLP-Approval": approval})
    assert status == 403 and json.loads(body)["cause"] == "too_many_records"


async def test_large_json_lists_count_as_exports(start_upstream, start_gateway, tmp_path):
    crm = await start_upstream(create_crm_app(seed=7, per_project=30))
    data = demo_config(int(crm.rsplit(":", 1)[1]), 0, str(tmp_path / "s"))
    data["exports"] = {"max_records": 10}
    gw = await start_gateway(crm, config=parse_config(data, env={}))
    status, _ = await call(gw, "GET", "/api/projects/proj1/customers?limit=10", "bob")
    assert status == 200
    status, body = await call(gw, "GET", "/api/projects/proj1/customers?limit=30", "bob")
    assert status == 403
    refusal = json.loads(body)
    assert refusal["rule"] == "record_count" and refusal["records"] == 30
    assert b"C1000001" not in body


async def test_store_failure_fails_closed(demo_gateway, monkeypatch):
    async def broken(*args, **kwargs):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(demo_gateway.app[GATEWAY].approvals, "consume", broken)
    status, body = await call(demo_gateway, "GET", EXPORT, "bob",
                              headers={"X-DLP-Approval": "whatever"})
    assert status == 503
    assert b"C1000001" not in body
