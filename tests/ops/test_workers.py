"""``serve --workers N`` with real processes: one port, summed metrics, graceful stop and
reload."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.mmap_dict import MmapedDict

from tests.ops.conftest import LIST, GatewayProcess, free_port, total

REQUESTS = "dlpgw_http_requests_total"


def requests_per_process(metrics_dir: Path) -> dict[int, float]:
    """``dlpgw_http_requests_total`` as each process's own file holds it."""
    out: dict[int, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):
            if key.startswith(f'["{REQUESTS.removesuffix("_total")}", "{REQUESTS}"'):
                out[pid] = out.get(pid, 0.0) + value
    return out


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").exists() and "zombie" not in Path(
        f"/proc/{pid}/status").read_text()


async def test_two_workers_share_the_port_and_metrics_add_up(demo_gateway: GatewayProcess):
    gw = demo_gateway
    before, per_before = total(gw.metrics(), REQUESTS), requests_per_process(
        gw.state_dir / "metrics")
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as client:
        for _ in range(120):
            async with client.get(gw.url + "/api/health") as resp:
                assert resp.status == 200
    after, per_after = total(gw.metrics(), REQUESTS), requests_per_process(
        gw.state_dir / "metrics")
    assert after - before == 120
    served = {pid: per_after[pid] - per_before.get(pid, 0.0) for pid in per_after}
    assert sum(served.values()) == 120
    assert set(gw.worker_pids()) == {pid for pid, n in served.items() if n > 0}
    assert len(gw.worker_pids()) == 2


async def _load(url: str, stop: asyncio.Event, keep_alive: bool) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    connector = aiohttp.TCPConnector(force_close=not keep_alive, limit=1)
    headers = {"X-API-Key": "demo-bob"}
    async with aiohttp.ClientSession(connector=connector) as client:
        while not stop.is_set():
            try:
                async with client.get(url, headers=headers) as resp:
                    body = await resp.read()
                    ok = resp.status == 200 and body.startswith(b"[")
                    outcomes["ok" if ok else f"status {resp.status}"] += 1
            except (aiohttp.ClientError, OSError) as exc:
                outcomes[type(exc).__name__] += 1
    return outcomes


async def test_reload_under_load_drops_no_request(demo_gateway: GatewayProcess):
    gw = demo_gateway
    old = gw.worker_pids()
    reloads = gw.log().count("reload done")
    before = total(gw.metrics(), REQUESTS)
    stop = asyncio.Event()
    url = gw.url + LIST + "?limit=5"
    loads = [asyncio.create_task(_load(url, stop, keep_alive=i % 2 == 0)) for i in range(8)]
    await asyncio.sleep(1.0)
    gw.proc.send_signal(signal.SIGHUP)
    await asyncio.to_thread(gw.wait_log, "reload done", 180.0, reloads + 1)
    await asyncio.sleep(1.0)
    stop.set()
    outcomes = sum((await asyncio.gather(*loads)), Counter())
    failures = {k: n for k, n in outcomes.items() if k != "ok"}
    assert failures == {}, outcomes
    assert outcomes["ok"] > 50
    new = gw.worker_pids()
    assert len(new) == 2 and not set(new) & set(old)
    assert not any(alive(pid) for pid in old)
    text = gw.metrics()
    assert total(text, REQUESTS) - before == outcomes["ok"]
    assert total(text, "dlpgw_http_requests_in_flight") == 0
    live_files = {p.name for p in (gw.state_dir / "metrics").glob("gauge_live*")}
    assert not any(name.endswith(f"_{pid}.db") for pid in old for name in live_files)
    assert total(text, "dlpgw_build_info") == 1


async def test_a_killed_worker_is_replaced(demo_gateway: GatewayProcess):
    gw = demo_gateway
    victim = gw.worker_pids()[0]
    replaced = gw.log().count("replacing it")
    os.kill(victim, signal.SIGKILL)
    await asyncio.to_thread(gw.wait_log, "replacing it", 30.0, replaced + 1)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        pids = {int(p.stem.rsplit("_", 1)[1])
                for p in (gw.state_dir / "metrics").glob("gauge_livesum_*.db")}
        if len(pids) == 2 and victim not in pids:
            break
        await asyncio.sleep(0.2)
    assert victim not in pids and len(pids) == 2
    async with aiohttp.ClientSession() as client, client.get(gw.url + "/api/health") as resp:
        assert resp.status == 200


@pytest.mark.parametrize("workers", [1, 2])
async def test_sigterm_drains_the_in_flight_request_then_exits_0(start_upstream, tmp_path,
                                                                  workers):
    entered = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        entered.set()
        await asyncio.sleep(4)
        return web.json_response({"done": True})

    app = web.Application()
    app.router.add_get("/slow", slow)
    upstream = await start_upstream(app)
    config = {
        "listen": {"host": "127.0.0.1", "port": free_port(), "grace_seconds": 20},
        "state_dir": str(tmp_path / "state"),
        "upstreams": {"crm": {"url": upstream}},
        "routes": [{"name": "crm", "upstream": "crm"}],
        "secrets": {"hmac_key": "x" * 32},
        "stages": ["metrics"],
        "detection": {"zh_ner": False, "en_ner": False},
    }
    gw = GatewayProcess(config, tmp_path, workers=workers)
    try:
        ready = r"serving on .* with 2 workers" if workers > 1 else "Running on"
        await asyncio.to_thread(gw.wait_log, ready)
        async with aiohttp.ClientSession() as client:
            pending = asyncio.create_task(client.get(gw.url + "/slow"))
            await asyncio.wait_for(entered.wait(), 30)
            gw.proc.send_signal(signal.SIGTERM)
            refused = False
            for _ in range(100):
                await asyncio.sleep(0.05)
                try:
                    async with aiohttp.ClientSession() as fresh:
                        await fresh.get(gw.url + "/_dlp/healthz")
                except aiohttp.ClientConnectorError:
                    refused = True
                    break
            assert refused, "the gateway still accepts connections after SIGTERM"
            assert not pending.done()
            resp = await pending
            assert resp.status == 200
            assert await resp.json() == {"done": True}
        code = await asyncio.to_thread(gw.proc.wait, 60)
        assert code == 0, gw.log()[-3000:]
        if workers > 1:
            assert '"msg":"stopped"' in gw.log()
    finally:
        gw.stop(signal.SIGKILL)
