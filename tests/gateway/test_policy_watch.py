"""Hot reload: a changed policy file is picked up; a bad one is refused, the old kept."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal

import aiohttp
import pytest

from gateway.app import POLICY_WATCHER
from gateway.cli.demo import demo_config
from gateway.config import parse_config
from gateway.demo.crm import create_crm_app
from gateway.runtime import GATEWAY
from policies.access import default_policy_files


@pytest.fixture
async def gw_with_policy_copy(start_upstream, start_gateway, tmp_path):
    files = default_policy_files()
    for path in (files.model, files.policy, files.grouping):
        shutil.copy(path, tmp_path / path.name)
    crm = await start_upstream(create_crm_app(seed=7, per_project=10))
    data = demo_config(int(crm.rsplit(":", 1)[1]), 0, str(tmp_path / "state"))
    data["policy"] = {"model": str(tmp_path / files.model.name),
                      "policy": str(tmp_path / files.policy.name),
                      "grouping": str(tmp_path / files.grouping.name)}
    gw = await start_gateway(crm, config=parse_config(data, env={}))
    return gw, tmp_path / files.grouping.name


async def status(gw, user: str, path: str) -> int:
    async with aiohttp.ClientSession() as client, client.get(
        gw.url + path, headers={"X-API-Key": f"demo-{user}"}
    ) as resp:
        return resp.status


def bump(path) -> None:
    stat = path.stat()
    os.utime(path, (stat.st_atime + 5, stat.st_mtime + 5))


async def test_changed_policy_is_reloaded_and_a_bad_one_refused(gw_with_policy_copy):
    gw, grouping = gw_with_policy_copy
    watcher = gw.app[POLICY_WATCHER]
    policy = gw.app[GATEWAY].policy
    assert await status(gw, "alice", "/api/projects/proj2/customers") == 403
    version = policy.version
    grouping.write_text(grouping.read_text() + "g, alice, role:planner, proj2\n")
    bump(grouping)
    assert watcher.check() is True
    assert policy.version != version
    assert await status(gw, "alice", "/api/projects/proj2/customers") == 200

    good = policy.version
    grouping.write_text(grouping.read_text() + "g, alice, role:planner\n")
    bump(grouping)
    assert watcher.check() is True
    assert policy.version == good
    assert await status(gw, "alice", "/api/projects/proj2/customers") == 200
    rendered = gw.app[GATEWAY].metrics.render().decode()
    assert "dlpgw_policy_reload_failures_total 1.0" in rendered


async def test_sighup_reloads(gw_with_policy_copy):
    gw, grouping = gw_with_policy_copy
    policy = gw.app[GATEWAY].policy
    version = policy.version
    grouping.write_text(grouping.read_text() + "g, dave, role:auditor, proj2\n")
    os.kill(os.getpid(), signal.SIGHUP)
    for _ in range(50):
        if policy.version != version:
            break
        await asyncio.sleep(0.02)
    assert policy.version != version


async def test_requests_during_reloads_never_fail(gw_with_policy_copy):
    gw, _ = gw_with_policy_copy
    watcher = gw.app[POLICY_WATCHER]

    async def reload_many() -> None:
        for _ in range(10):
            await asyncio.to_thread(watcher.reload, "test")

    results = await asyncio.gather(
        reload_many(), *(status(gw, "bob", "/api/projects/proj1/customers") for _ in range(30))
    )
    assert all(code == 200 for code in results[1:])


async def test_admin_endpoint_reloads_and_refuses_non_admins(gw_with_policy_copy):
    gw, grouping = gw_with_policy_copy
    policy = gw.app[GATEWAY].policy
    version = policy.version
    grouping.write_text(grouping.read_text() + "g, erin, role:planner, proj2\n")

    async def post(user: str | None) -> tuple[int, dict]:
        headers = {"X-API-Key": f"demo-{user}"} if user else {}
        async with aiohttp.ClientSession() as client, client.post(
            gw.url + "/_dlp/policy/reload", headers=headers
        ) as resp:
            return resp.status, await resp.json()

    assert (await post(None))[0] == 401
    assert (await post("bob"))[0] == 403
    assert policy.version == version
    status, body = await post("admin")
    assert status == 200 and body["ok"] is True
    assert policy.version != version
    grouping.write_text(grouping.read_text() + "g, broken\n")
    status, body = await post("admin")
    assert status == 422 and body["ok"] is False and "refused" in body["message"]
