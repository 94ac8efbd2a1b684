"""authn + authz + pii_mask through a live gateway with the demo configuration."""

from __future__ import annotations

import json

import aiohttp
import pytest

from gateway.cli.demo import demo_config
from gateway.config import parse_config
from gateway.demo.crm import create_crm_app
from gateway.demo.data import generate_customers
from gateway.runtime import GATEWAY
from policies.access import PolicyError
from reports.audit_store import iter_entries

CUSTOMER = next(c for c in generate_customers("proj1", 20, 7) if c.locale == "zh_CN")


@pytest.fixture
async def demo_gateway(start_upstream, start_gateway, tmp_path):
    crm = await start_upstream(create_crm_app(seed=7, per_project=20))
    port = int(crm.rsplit(":", 1)[1])
    config = parse_config(demo_config(port, 0, str(tmp_path / "state")), env={})
    return await start_gateway(crm, config=config)


async def call(gw, path: str, user: str | None = None, method: str = "GET", **kwargs):
    headers = {"X-API-Key": f"demo-{user}"} if user else {}
    async with aiohttp.ClientSession() as client, client.request(
        method, gw.url + path, headers=headers, **kwargs
    ) as resp:
        return resp, await resp.read()


async def test_unauthenticated_is_401_with_a_challenge(demo_gateway):
    resp, _ = await call(demo_gateway, "/api/projects/proj1/customers")
    assert resp.status == 401
    assert "ApiKey" in resp.headers["WWW-Authenticate"]
    resp, _ = await call(demo_gateway, "/api/projects/proj1/customers", "nobody")
    assert resp.status == 401


async def test_public_login_passes_without_credentials(demo_gateway):
    resp, body = await call(demo_gateway, "/login", method="POST",
                            data={"username": "alice", "password": "wrong"})
    assert resp.status == 401 and json.loads(body) == {"ok": False}


async def test_planner_needs_approval_for_another_project(demo_gateway):
    resp, body = await call(demo_gateway, "/api/projects/proj2/customers", "alice")
    assert resp.status == 403
    doc = json.loads(body)
    assert doc["error"] == "approval_required"
    assert doc["approval"]["endpoint"] == "/_dlp/approvals"
    assert doc["approval"]["body"]["path"] == "/api/projects/proj2/customers"


async def test_traversal_cannot_escape_the_project(demo_gateway):
    resp, _ = await call(demo_gateway, "/api/projects/proj1/../proj2/customers", "bob")
    assert resp.status == 403


async def test_auditor_reads_no_customer_data(demo_gateway):
    resp, body = await call(demo_gateway, "/api/projects/proj1/customers", "dave")
    assert resp.status == 403 and json.loads(body)["error"] == "forbidden"


@pytest.mark.parametrize(
    ("user", "phone_clear", "name_clear", "redacted"),
    [("bob", True, True, False), ("alice", False, False, False), ("erin", False, False, True)],
)
async def test_field_rights_and_role_masking(demo_gateway, user, phone_clear, name_clear,
                                             redacted):
    resp, body = await call(demo_gateway, f"/api/projects/proj1/customers/{CUSTOMER.id}", user)
    assert resp.status == 200
    doc = json.loads(body)
    assert (doc["phone"] == CUSTOMER.phone) is phone_clear
    assert (doc["name"] == CUSTOMER.name) is name_clear
    assert CUSTOMER.id_number not in body.decode()
    assert CUSTOMER.bank_card not in body.decode()
    assert (doc["id_number"] == "") is redacted


async def test_decisions_are_audited_and_counted(demo_gateway):
    await call(demo_gateway, "/api/projects/proj2/customers", "alice")
    gateway = demo_gateway.app[GATEWAY]
    gateway.audit_log.flush()
    last = list(iter_entries(gateway.audit_log.db))[-1]
    entry = {**json.loads(last.payload), "user": last.actor}
    verdict = next(v for v in entry["verdicts"] if v["stage"] == "authz")
    assert verdict["decision"] == "approval_required"
    assert verdict["rule"][0] == "p3" and verdict["policy_version"]
    assert entry["user"] == "alice"
    rendered = gateway.metrics.render().decode()
    assert 'dlpgw_policy_decisions_total{decision="approval_required"} 1.0' in rendered


async def test_policy_failure_fails_closed(demo_gateway, monkeypatch):
    def broken(*args, **kwargs):
        raise PolicyError("policy not loaded")

    monkeypatch.setattr(demo_gateway.app[GATEWAY].policy, "decide", broken)
    resp, body = await call(demo_gateway, "/api/projects/proj1/customers", "bob")
    assert resp.status == 503
    assert CUSTOMER.phone not in body.decode()
    rendered = demo_gateway.app[GATEWAY].metrics.render().decode()
    assert 'dlpgw_policy_decisions_total{decision="error"} 1.0' in rendered


async def test_authentication_failures_are_counted_without_subjects(demo_gateway):
    await call(demo_gateway, "/api/projects/proj1/customers")
    await call(demo_gateway, "/api/projects/proj1/customers", "nobody")
    _, body = await call(demo_gateway, "/_dlp/metrics")
    text = body.decode()
    assert 'dlpgw_authn_failures_total{auth="none",reason="no_credentials"} 1.0' in text
    failures = [line for line in text.splitlines()
                if line.startswith("dlpgw_authn_failures_total{auth=\"api_key\"")]
    assert failures and failures[0].endswith(" 1.0")
    assert "nobody" not in text
