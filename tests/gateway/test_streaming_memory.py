"""A 200 MB response streams through a real gateway process with bounded memory."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys

import aiohttp
import psutil
import pytest
import yaml
from aiohttp import web

CHUNK = b"0123456789abcdef" * 4096
TOTAL = 200 * 1024 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def big(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream",
                                       "Content-Length": str(TOTAL)})
    await resp.prepare(request)
    for _ in range(TOTAL // len(CHUNK)):
        await resp.write(CHUNK)
    await resp.write_eof()
    return resp


async def wait_ready(url: str, proc: subprocess.Popen) -> None:
    async with aiohttp.ClientSession() as client:
        for _ in range(200):
            if proc.poll() is not None:
                raise AssertionError("gateway exited early")
            try:
                async with client.get(url + "/_dlp/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("gateway did not become healthy")


@pytest.fixture
def gateway_process(tmp_path, start_upstream):
    procs: list[subprocess.Popen] = []

    def start(upstream_url: str) -> tuple[str, subprocess.Popen]:
        port = free_port()
        cfg = {
            "listen": {"host": "127.0.0.1", "port": port},
            "state_dir": str(tmp_path / "state"),
            "upstreams": {"crm": {"url": upstream_url}},
            "routes": [{"name": "crm", "upstream": "crm"}],
            "secrets": {"hmac_key": "x" * 32},
        }
        path = tmp_path / "gw.yaml"
        path.write_text(yaml.safe_dump(cfg))
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--config", str(path),
             "--workers", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ},
        )
        procs.append(proc)
        return f"http://127.0.0.1:{port}", proc

    yield start
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc.stderr:
            proc.stderr.close()


@pytest.mark.slow
async def test_200mb_stream_keeps_gateway_rss_growth_under_64mb(start_upstream, gateway_process):
    app = web.Application()
    app.router.add_get("/big", big)
    upstream = await start_upstream(app)
    url, proc = gateway_process(upstream)
    await wait_ready(url, proc)
    ps = psutil.Process(proc.pid)
    baseline = ps.memory_info().rss
    peak = baseline
    received = 0
    async with aiohttp.ClientSession() as client, client.get(url + "/big") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Length"] == str(TOTAL)
        async for chunk in resp.content.iter_chunked(256 * 1024):
            received += len(chunk)
            if received % (8 * 1024 * 1024) < 256 * 1024:
                peak = max(peak, ps.memory_info().rss)
    peak = max(peak, ps.memory_info().rss)
    assert received == TOTAL
    growth_mb = (peak - baseline) / 1024 / 1024
    print(f"gateway RSS baseline {baseline / 2**20:.1f} MiB, growth {growth_mb:.1f} MiB")
    assert growth_mb < 64
