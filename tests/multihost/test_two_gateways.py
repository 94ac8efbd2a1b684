"""Two gateway processes behave as one: approvals, brute-force counts and policy are shared.

The replicas (``cluster``) are real ``dlp-gateway serve`` processes on PostgreSQL and
Redis; what one writes the other must see. Timings printed with ``-s`` are informative,
not asserted, except the 2 s policy-propagation bound the issue sets.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from typing import Any

import aiohttp
import pytest

from tests.multihost.conftest import CLI, MAX_FAILURES_PER_IP, ROOT, Cluster

pytestmark = pytest.mark.slow

EXPORT = "/api/projects/proj1/customers/export.csv"


def key(user: str) -> dict[str, str]:
    return {"X-API-Key": f"demo-{user}"}


async def call(client: aiohttp.ClientSession, method: str, url: str,
               **kwargs: Any) -> tuple[int, Any]:
    async with client.request(method, url, **kwargs) as resp:
        body = await resp.read()
        if resp.content_type == "application/json":
            return resp.status, await resp.json()
        return resp.status, body


async def approved_export(client: aiohttp.ClientSession, request_on: str,
                          approve_on: str) -> str:
    status, created = await call(client, "POST", request_on + "/_dlp/approvals",
                                 headers=key("bob"), json={
                                     "method": "GET", "path": EXPORT, "max_records": 300,
                                     "reason": "quarterly review"})
    assert status == 201, created
    status, decided = await call(client, "POST",
                                 f"{approve_on}/_dlp/approvals/{created['id']}/approve",
                                 headers=key("carol"), json={"comment": "ok"})
    assert status == 200 and decided["state"] == "approved", decided
    return str(created["id"])


async def export(client: aiohttp.ClientSession, url: str, approval: str) -> tuple[int, Any]:
    return await call(client, "GET", url + EXPORT,
                      headers={**key("bob"), "X-DLP-Approval": approval})


async def test_an_approval_made_on_one_is_used_once_on_the_other(cluster: Cluster):
    a, b = cluster.urls
    async with aiohttp.ClientSession() as client:
        status, blocked = await call(client, "GET", a + EXPORT, headers=key("bob"))
        assert status == 403 and blocked["error"] == "approval_required"
        approval = await approved_export(client, a, b)
        status, body = await export(client, b, approval)
        assert status == 200 and b"," in body, body
        for url in (a, b):
            status, again = await export(client, url, approval)
            assert status == 403 and again["cause"] == "used", (url, again)
        status, shown = await call(client, "GET", f"{a}/_dlp/approvals/{approval}",
                                   headers=key("bob"))
        assert shown["state"] == "used" and shown["uses_left"] == 0


async def test_two_replicas_racing_for_one_approval_exactly_one_wins(cluster: Cluster):
    a, b = cluster.urls
    async with aiohttp.ClientSession() as client:
        ids = [await approved_export(client, a, b) for _ in range(8)]
        for approval in ids:
            first, second = await asyncio.gather(export(client, a, approval),
                                                 export(client, b, approval))
            assert sorted([first[0], second[0]]) == [200, 403], (approval, first, second)
            loser = first if first[0] == 403 else second
            assert loser[1]["cause"] == "used"


async def test_brute_force_count_spans_both_replicas(cluster: Cluster):
    a, b = cluster.urls
    before = len(cluster.crm.logins)
    async with aiohttp.ClientSession() as client:
        sequential = [await call(client, "POST", (a, b)[i % 2] + "/login",
                                 data={"username": f"mh{i}", "password": "guess"})
                      for i in range(MAX_FAILURES_PER_IP + 4)]
        statuses = [status for status, _ in sequential]
        assert statuses == [401] * MAX_FAILURES_PER_IP + [429] * 4, statuses
        assert len(cluster.crm.logins) - before == MAX_FAILURES_PER_IP
        burst = await asyncio.gather(*(
            call(client, "POST", (a, b)[i % 2] + "/login",
                 data={"username": f"burst{i}", "password": "guess"}) for i in range(400)))
    assert {status for status, _ in burst} == {429}
    assert len(cluster.crm.logins) - before == MAX_FAILURES_PER_IP, "nothing more got through"


async def alice_proj2(client: aiohttp.ClientSession, url: str) -> int:
    status, _ = await call(client, "GET", url + "/api/projects/proj2/customers",
                           headers=key("alice"))
    return status


async def test_a_policy_pushed_via_one_reaches_the_other_within_2_s(cluster: Cluster):
    a, b = cluster.urls
    async with aiohttp.ClientSession() as client:
        assert [await alice_proj2(client, url) for url in (a, b)] == [403, 403]
        grouping = cluster.policy_dir / "grouping.csv"
        grouping.write_text(grouping.read_text() + "g, alice, role:planner, proj2\n")
        pushed = await asyncio.to_thread(
            subprocess.run, [CLI, "policy", "push", "--config", str(cluster.configs[0]),
                             "--as", "ops"], cwd=ROOT, capture_output=True, timeout=60)
        assert pushed.returncode == 0, pushed.stderr
        committed = json.loads(pushed.stdout)["pushed_at"]
        seen: dict[str, float] = {}
        while len(seen) < 2 and time.time() - committed < 5:
            for url in (a, b):
                if url not in seen and await alice_proj2(client, url) == 200:
                    seen[url] = time.time() - committed
            await asyncio.sleep(0.01)
    print(f"\npolicy propagation after the push committed: {seen}")
    assert set(seen) == {a, b}, "both replicas run the pushed policy"
    assert max(seen.values()) <= 2.0
