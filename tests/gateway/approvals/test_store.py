from __future__ import annotations

import asyncio
import multiprocessing
from dataclasses import replace

import pytest
import sqlalchemy as sa

from gateway.approvals import (
    Approval,
    ApprovalError,
    ApprovalRequest,
    ApprovalStore,
    ApprovalUse,
)

PATH = "/api/projects/acme/customers/export"
REQUEST = ApprovalRequest(method="GET", path=PATH, query_fp="fp1", reason="audit Q3",
                          max_records=100, unmask=("CN_MOBILE",), ticket="OPS-1")
USE = ApprovalUse(requester="alice", method="GET", path=PATH, query_fp="fp1", records=100)


@pytest.fixture
async def store(database_url: str):
    """The same tests on the embedded SQLite file and on a fresh PostgreSQL schema."""
    opened = ApprovalStore.open(database_url)
    yield opened
    opened.close()


async def approved(store: ApprovalStore, request: ApprovalRequest = REQUEST) -> Approval:
    created = await store.create("alice", "acme", request)
    return await store.approve(created.id, "bob", ("acme",), "ok")


async def refusal(coro) -> str:
    with pytest.raises(ApprovalError) as info:
        await coro
    return info.value.code


async def test_create_approve_consume_happy_path(store, database_url):
    created = await store.create("alice", "acme", REQUEST)
    assert created.state == "pending" and created.unmask == ("CN_MOBILE",)
    assert len(created.id) >= 22 and created.expires_at - created.created_at == 3600
    done = await store.approve(created.id, "bob", ("acme",), "fine")
    assert (done.state, done.approvers, done.decided_comment) == ("approved", ("bob",), "fine")
    used = await store.consume(created.id, USE)
    assert (used.state, used.uses_left) == ("used", 0)
    assert await store.get(created.id) == used
    if database_url.startswith("sqlite"):
        engine = sa.create_engine(database_url)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        engine.dispose()


async def test_self_and_outside_tenant_approval_refused(store):
    created = await store.create("alice", "acme", REQUEST)
    assert await refusal(store.approve(created.id, "alice", ("acme",), None)) == "self_approval"
    assert await refusal(store.approve(created.id, "dave", ("globex",), None)) == "wrong_tenant"
    assert await refusal(store.approve("nope", "bob", ("acme",), None)) == "unknown"
    assert (await store.approve(created.id, "root", ("*",), None)).state == "approved"
    assert await refusal(store.approve(created.id, "bob", ("acme",), None)) == "not_pending"


async def test_m_of_n_needs_two_distinct_approvers(store):
    created = await store.create("alice", "acme", replace(REQUEST, approvals_needed=2))
    first = await store.approve(created.id, "bob", ("acme",), None)
    assert (first.state, first.approvers) == ("pending", ("bob",))
    assert await refusal(store.approve(created.id, "bob", ("acme",), None)) == "already_approved"
    assert await refusal(store.consume(created.id, USE)) == "not_approved"
    second = await store.approve(created.id, "carol", ("acme",), None)
    assert (second.state, second.approvers) == ("approved", ("bob", "carol"))


async def test_consume_twice_and_multi_use(store):
    once = await approved(store)
    await store.consume(once.id, USE)
    assert await refusal(store.consume(once.id, USE)) == "used"
    twice = await approved(store, replace(REQUEST, uses=2))
    assert (await store.consume(twice.id, USE)).state == "approved"
    assert (await store.consume(twice.id, USE)).state == "used"
    assert await refusal(store.consume(twice.id, USE)) == "used"


@pytest.mark.parametrize(("change", "code"), [
    ({"requester": "mallory"}, "wrong_requester"),
    ({"path": "/api/projects/acme/customers"}, "wrong_request"),
    ({"method": "POST"}, "wrong_request"),
    ({"query_fp": "fp2"}, "wrong_request"),
    ({"records": 101}, "too_many_records"),
])
async def test_consume_mismatch_refused_and_not_spent(store, change, code):
    row = await approved(store)
    assert await refusal(store.consume(row.id, replace(USE, **change))) == code
    assert (await store.get(row.id)).uses_left == 1
    assert (await store.consume(row.id, replace(USE, records=1))).state == "used"


async def test_consume_unknown_pending_denied_revoked(store):
    assert await refusal(store.consume("missing", USE)) == "unknown"
    pending = await store.create("alice", "acme", REQUEST)
    assert await refusal(store.consume(pending.id, USE)) == "not_approved"
    denied = await store.deny(pending.id, "bob", ("acme",), "no")
    assert (denied.state, denied.decided_comment) == ("denied", "no")
    assert await refusal(store.consume(pending.id, USE)) == "not_approved"
    row = await approved(store)
    assert (await store.revoke(row.id, "alice")).state == "revoked"
    assert await refusal(store.consume(row.id, USE)) == "not_approved"
    assert await refusal(store.revoke(row.id, "alice")) == "not_revocable"
    assert await refusal(store.revoke("missing", "alice")) == "unknown"


async def test_expiry_clock_edge(store):
    row = await approved(store)
    edge = row.expires_at
    assert await refusal(store.consume(row.id, USE, now=edge)) == "expired"
    assert await refusal(store.consume(row.id, USE, now=edge + 1)) == "expired"
    assert (await store.consume(row.id, USE, now=edge - 0.001)).state == "used"


async def test_approving_an_expired_request_expires_it(store):
    created = await store.create("alice", "acme", replace(REQUEST, ttl_seconds=0))
    assert await refusal(store.approve(created.id, "bob", ("acme",), None)) == "expired"
    assert (await store.get(created.id)).state == "expired"


async def test_sweeper_expires_only_stale_open_rows(store):
    stale_pending = await store.create("alice", "acme", replace(REQUEST, ttl_seconds=10))
    stale_approved = await approved(store, replace(REQUEST, ttl_seconds=10))
    fresh = await approved(store)
    denied = await store.create("alice", "acme", replace(REQUEST, ttl_seconds=10))
    await store.deny(denied.id, "bob", ("acme",), None)
    assert await store.expire_stale(now=fresh.created_at + 60) == 2
    states = {a.id: a.state for a in await store.list()}
    assert states == {stale_pending.id: "expired", stale_approved.id: "expired",
                      fresh.id: "approved", denied.id: "denied"}
    assert [a.id for a in await store.list(state="expired", tenant="acme")] == [
        stale_pending.id, stale_approved.id]
    assert await store.list(tenant="globex") == []
    assert await store.expire_stale(now=fresh.created_at + 60) == 0


def _race_worker(db: str, ids: list[str], barrier, results) -> None:
    async def run() -> list[tuple[str, str]]:
        store = ApprovalStore.open(db)
        outcomes = []
        try:
            for approval_id in ids:
                barrier.wait(timeout=60)
                try:
                    await store.consume(approval_id, USE)
                    outcomes.append((approval_id, "won"))
                except ApprovalError as exc:
                    outcomes.append((approval_id, exc.code))
        finally:
            store.close()
        return outcomes
    results.put(asyncio.run(run()))


@pytest.mark.slow
async def test_two_processes_race_and_exactly_one_wins(store, database_url):
    ids = [(await approved(store)).id for _ in range(50)]
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_race_worker, args=(database_url, ids, barrier, results))
             for _ in range(2)]
    for proc in procs:
        proc.start()
    outcomes = [await asyncio.to_thread(results.get, True, 120) for _ in procs]
    for proc in procs:
        await asyncio.to_thread(proc.join, 30)
        assert proc.exitcode == 0
    for index, approval_id in enumerate(ids):
        pair = sorted(outcomes[0][index][1:] + outcomes[1][index][1:])
        assert outcomes[0][index][0] == outcomes[1][index][0] == approval_id
        assert pair == ["used", "won"], (approval_id, pair)
    assert {a.state for a in await store.list()} == {"used"}
