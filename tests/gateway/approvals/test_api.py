from __future__ import annotations

import hashlib

import pytest
from aiohttp import web

from gateway.approvals import (
    ApprovalApiOptions,
    ApprovalStore,
    ApprovalUse,
    add_approval_routes,
    sorted_query,
)
from gateway.exchange import Principal

PREFIX = "/_dlp/"
EXPORT = "/api/projects/acme/customers/export"
PEOPLE = {
    "alice": Principal("alice", (), ("acme",)),
    "bob": Principal("bob", ("approver",), ("acme",)),
    "carol": Principal("carol", ("approver",), ("acme",)),
    "dave": Principal("dave", ("approver",), ("globex",)),
    "root": Principal("root", ("admin",), ()),
}
GOOD = {"method": "get", "path": EXPORT, "query": "b=2&a=1", "reason": "quarterly audit",
        "max_records": 500, "unmask": ["CN_MOBILE"], "ticket": "OPS-7"}


def fingerprint(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()[:16]


async def authenticate(request: web.Request) -> Principal | None:
    """Identity-only test double: the header names a principal from the table."""
    return PEOPLE.get(request.headers.get("X-Test-User", ""))


def as_user(name: str) -> dict[str, str]:
    return {"X-Test-User": name}


@pytest.fixture
async def setup(aiohttp_client, tmp_path):
    store = ApprovalStore.open(tmp_path / "approvals.db")
    events: list[tuple[str, str, str]] = []

    async def on_event(kind, approval, actor):
        events.append((kind, approval.state, actor))

    app = web.Application()
    add_approval_routes(app, PREFIX, store, authenticate,
                        ApprovalApiOptions(fingerprint=fingerprint, on_event=on_event))
    client = await aiohttp_client(app)
    yield client, store, events
    store.close()


async def create(client, user="alice", body=None):
    resp = await client.post(PREFIX + "approvals", json=body or GOOD, headers=as_user(user))
    return resp.status, await resp.json()


def test_sorted_query():
    assert sorted_query("?b=2&&a=1") == "a=1&b=2"
    assert sorted_query("") == ""


async def test_create_approve_then_guard_consumes(setup):
    client, store, events = setup
    status, body = await create(client)
    assert status == 201, body
    assert (body["state"], body["tenant"], body["method"]) == ("pending", "acme", "GET")
    assert body["query_fp"] == fingerprint("a=1&b=2") and body["unmask"] == ["CN_MOBILE"]
    url = f"{PREFIX}approvals/{body['id']}"
    resp = await client.post(url + "/approve", json={"comment": "ok"}, headers=as_user("bob"))
    assert resp.status == 200 and (await resp.json())["state"] == "approved"
    resp = await client.get(url, headers=as_user("alice"))
    assert (await resp.json())["approvers"] == ["bob"]
    use = ApprovalUse("alice", "GET", EXPORT, fingerprint("a=1&b=2"), 500)
    assert (await store.consume(body["id"], use)).state == "used"
    assert events == [("created", "pending", "alice"), ("approved", "approved", "bob")]


async def test_listing_is_scoped(setup):
    client, _, _ = setup
    _, mine = await create(client)
    _, theirs = await create(client, "root", {**GOOD, "path": "/api/projects/globex/x"})

    async def ids(user, query=""):
        resp = await client.get(PREFIX + "approvals" + query, headers=as_user(user))
        return [a["id"] for a in (await resp.json())["approvals"]]

    assert await ids("alice") == [mine["id"]]
    assert await ids("bob") == [mine["id"]]
    assert await ids("dave") == [theirs["id"]]
    assert len(await ids("root")) == 2
    assert await ids("root", "?state=approved") == []
    resp = await client.get(f"{PREFIX}approvals/{mine['id']}", headers=as_user("dave"))
    assert resp.status == 404


async def test_auth_and_role_checks(setup):
    client, _, _ = setup
    _, body = await create(client)
    url = f"{PREFIX}approvals/{body['id']}"
    assert (await client.get(PREFIX + "approvals")).status == 401
    assert (await client.post(PREFIX + "approvals", json=GOOD)).status == 401
    assert (await client.post(url + "/approve", headers=as_user("nobody"))).status == 401
    resp = await client.post(url + "/approve", headers=as_user("alice"))
    assert resp.status == 403 and (await resp.json())["error"] == "forbidden"
    resp = await client.post(url + "/approve", headers=as_user("dave"))
    assert resp.status == 409 and (await resp.json())["error"] == "wrong_tenant"
    resp = await client.post(f"{PREFIX}approvals/unknown1/approve", headers=as_user("bob"))
    assert resp.status == 404


async def test_self_approval_and_m_of_n(setup, aiohttp_client, tmp_path):
    client, _, _ = setup
    _, own = await create(client, "bob")
    resp = await client.post(f"{PREFIX}approvals/{own['id']}/approve", headers=as_user("bob"))
    assert resp.status == 409 and (await resp.json())["error"] == "self_approval"

    store = ApprovalStore.open(tmp_path / "two.db")
    app = web.Application()
    add_approval_routes(app, PREFIX, store, authenticate,
                        ApprovalApiOptions(fingerprint=fingerprint, approvals_needed=2))
    two = await aiohttp_client(app)
    _, body = await create(two)
    url = f"{PREFIX}approvals/{body['id']}/approve"
    assert (await (await two.post(url, headers=as_user("bob"))).json())["state"] == "pending"
    assert (await two.post(url, headers=as_user("bob"))).status == 409
    assert (await (await two.post(url, headers=as_user("carol"))).json())["state"] == "approved"
    store.close()


async def test_deny_and_revoke(setup):
    client, _, events = setup
    _, first = await create(client)
    url = f"{PREFIX}approvals/{first['id']}"
    resp = await client.post(url + "/deny", json={"comment": "too broad"}, headers=as_user("bob"))
    body = await resp.json()
    assert (body["state"], body["decided_comment"]) == ("denied", "too broad")
    assert (await client.post(url + "/approve", headers=as_user("carol"))).status == 409

    _, second = await create(client)
    url = f"{PREFIX}approvals/{second['id']}"
    await client.post(url + "/approve", headers=as_user("bob"))
    assert (await client.post(url + "/revoke", headers=as_user("dave"))).status == 404
    resp = await client.post(url + "/revoke", headers=as_user("alice"))
    assert resp.status == 200 and (await resp.json())["state"] == "revoked"
    resp = await client.post(url + "/revoke", headers=as_user("root"))
    assert resp.status == 409 and (await resp.json())["error"] == "not_revocable"
    assert [e[0] for e in events] == ["created", "denied", "created", "approved", "revoked"]


@pytest.mark.parametrize(("change", "code"), [
    ({"reason": None}, "invalid_field"),
    ({"reason": "   "}, "invalid_field"),
    ({"max_records": 1_000_000}, "invalid_field"),
    ({"max_records": 0}, "invalid_field"),
    ({"max_records": "10"}, "invalid_field"),
    ({"max_records": True}, "invalid_field"),
    ({"ttl_seconds": 10}, "invalid_field"),
    ({"ttl_seconds": 86_401}, "invalid_field"),
    ({"method": "FETCH"}, "invalid_field"),
    ({"unmask": "CN_MOBILE"}, "invalid_field"),
    ({"query": 5}, "invalid_field"),
    ({"path": "/api/projects/acme/%2e%2e%2fx%00"}, "invalid_path"),
    ({"path": "/api/projects/globex/customers"}, "unknown_tenant"),
    ({"path": "/API/Projects/GLOBEX/customers"}, "unknown_tenant"),
])
async def test_malformed_requests_are_400(setup, change, code):
    client, store, _ = setup
    body = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    status, answer = await create(client, body=body)
    assert (status, answer["error"]) == (400, code), answer
    assert answer["reason"]
    assert await store.list() == []


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b""])
async def test_non_json_body_is_400(setup, raw):
    client, _, _ = setup
    resp = await client.post(PREFIX + "approvals", data=raw,
                             headers={**as_user("alice"), "Content-Type": "application/json"})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_json"


async def test_admin_may_request_for_any_tenant(setup):
    client, _, _ = setup
    status, body = await create(client, "root", {**GOOD, "path": "/api/projects/globex/x"})
    assert (status, body["tenant"]) == (201, "globex")
