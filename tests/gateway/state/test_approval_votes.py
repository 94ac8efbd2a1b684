"""Concurrent decisions on one request never lose a vote (row lock / write lock)."""

from __future__ import annotations

import asyncio

from gateway.approvals import ApprovalRequest, ApprovalStore

REQUEST = ApprovalRequest(method="GET", path="/api/projects/acme/customers/export.csv",
                          query_fp="fp", reason="audit", max_records=10, approvals_needed=2)


async def test_two_approvers_at_once_both_count(database_url):
    store = ApprovalStore.open(database_url)
    try:
        for _ in range(10):
            created = await store.create("alice", "acme", REQUEST)
            await asyncio.gather(store.approve(created.id, "bob", ("acme",), None),
                                 store.approve(created.id, "carol", ("acme",), None))
            final = await store.get(created.id)
            assert final is not None
            assert final.state == "approved" and sorted(final.approvers) == ["bob", "carol"]
    finally:
        store.close()
