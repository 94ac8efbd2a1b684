"""A whole gateway run with the demo CRM: every decision is in the chain, no raw PII is.

Masked pages, field rights, a search by name, identifiers in paths, a login attempt with
an e-mail address, the export approval story and a policy reload all go through a live
gateway; afterwards every audit entry is searched for every raw value of the demo data.
"""

from __future__ import annotations

import json
from collections import Counter

import aiohttp
from aiohttp.test_utils import TestServer

from gateway.app import create_app
from gateway.audit_wiring import load_signer
from gateway.cli.demo import demo_config
from gateway.config import parse_config
from gateway.demo.crm import create_crm_app
from gateway.demo.data import generate_customers, pii_values
from gateway.runtime import GATEWAY
from reports.audit_store import iter_entries, load_checkpoints
from reports.audit_verify import verify_chain
from reports.database import open_database

SEED, PER_PROJECT = 7, 20
CUSTOMERS = [c for p in ("proj1", "proj2") for c in generate_customers(p, PER_PROJECT, SEED)]
ZH_CUSTOMER = next(c for c in CUSTOMERS if c.locale == "zh_CN")
EXPORT = "/api/projects/proj1/customers/export.csv"


def raw_values() -> list[str]:
    return [v for c in CUSTOMERS for values in pii_values(c).values() for v in values]


async def call(client, base: str, method: str, path: str, user: str | None = None, **kwargs):
    headers = {"X-API-Key": f"demo-{user}"} if user else {}
    headers.update(kwargs.pop("headers", {}))
    async with client.request(method, base + path, headers=headers, **kwargs) as resp:
        return resp.status, await resp.read()


async def story(base: str) -> list[bytes]:
    served = []
    async with aiohttp.ClientSession() as client:
        for user in ("bob", "alice", "erin"):
            status, body = await call(client, base, "GET",
                                      "/api/projects/proj1/customers?limit=20", user)
            assert status == 200
            served.append(body)
        status, body = await call(client, base, "GET", "/api/notes/proj1", "bob")
        served.append(body)
        await call(client, base, "GET", "/api/projects/proj1/customers", "bob",
                   params={"q": ZH_CUSTOMER.name, "phone": ZH_CUSTOMER.phone})
        await call(client, base, "GET",
                   f"/api/projects/proj1/customers/{ZH_CUSTOMER.id_number}", "bob")
        await call(client, base, "GET", f"/api/by-email/{ZH_CUSTOMER.email}", "alice")
        await call(client, base, "POST", "/login",
                   data={"username": ZH_CUSTOMER.email, "password": ZH_CUSTOMER.phone})
        assert (await call(client, base, "GET", EXPORT, "bob"))[0] == 403
        status, body = await call(client, base, "POST", "/_dlp/approvals", "bob", json={
            "method": "GET", "path": EXPORT, "max_records": 300,
            "reason": f"customer {ZH_CUSTOMER.name} {ZH_CUSTOMER.phone} asked"})
        assert status == 201, body
        approval = json.loads(body)["id"]
        status, _ = await call(client, base, "POST", f"/_dlp/approvals/{approval}/approve",
                               "carol", json={"comment": f"ok {ZH_CUSTOMER.id_number}"})
        assert status == 200
        status, body = await call(client, base, "GET", EXPORT, "bob",
                                  headers={"X-DLP-Approval": approval})
        assert status == 200
        served.append(body)
        status, _ = await call(client, base, "POST", "/_dlp/policy/reload", "admin")
        assert status == 200
    return served


async def test_every_decision_is_chained_and_no_raw_pii_is_logged(start_upstream, tmp_path):
    crm = await start_upstream(create_crm_app(seed=SEED, per_project=PER_PROJECT))
    config = parse_config(demo_config(int(crm.rsplit(":", 1)[1]), 0, str(tmp_path / "s")),
                          env={})
    server = TestServer(create_app(config), host="127.0.0.1")
    await server.start_server()
    try:
        served = await story(str(server.make_url("")).rstrip("/"))
        assert server.app[GATEWAY].audit_log.healthy()
    finally:
        await server.close()  # drains the queue and signs a last checkpoint

    assert any(ZH_CUSTOMER.phone.encode() in body for body in served), \
        "bob's field rights should have served raw phones, or this test proves nothing"
    db = open_database(config.database_url())
    try:
        entries = list(iter_entries(db))
        checkpoints = load_checkpoints(db)
        signer = load_signer(config)
        report = verify_chain(db, {signer.key_id: signer.public_key})
    finally:
        db.close()
    assert report.ok, report.problems
    assert report.last_seq == len(entries)
    assert checkpoints[-1].seq == report.last_seq, "shutdown must sign the final head"
    kinds = Counter(e.kind for e in entries)
    assert kinds["request"] >= 10
    for kind in ("approval_created", "approval_approved", "policy_reload"):
        assert kinds[kind] == 1, kinds
    assert sum('"stage":"export_guard"' in e.payload and '"approval"' in e.payload
               for e in entries) >= 1
    logged = "\n".join(f"{e.kind} {e.actor} {e.payload}" for e in entries)
    leaked = sorted({v for v in raw_values() if v in logged})
    assert leaked == []
    masked_list = next(e for e in entries if e.kind == "request" and e.actor == "alice")
    assert '"pii":{' in masked_list.payload and '"PERSON"' in masked_list.payload
