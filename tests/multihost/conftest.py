"""Two real gateway processes sharing one PostgreSQL schema and one Redis prefix.

Started once per module: ``dlp-gateway serve --workers 1`` twice, each on its own port
and state directory (as on two hosts), in front of one demo CRM that counts the logins it
receives. Skipped with the reason when PostgreSQL or Redis is absent.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import yaml
from aiohttp import web

from gateway.cli.demo import demo_config
from gateway.demo.crm import create_crm_app
from policies.access import default_policy_files
from tests.conftest import (
    REDIS_URL,
    _postgres_reason,
    _redis_reason,
    postgres_schema,
)

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("dlp-gateway"))
MAX_FAILURES_PER_IP = 12


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Crm:
    url: str
    logins: list[int] = field(default_factory=list)


@dataclass
class Cluster:
    urls: list[str]
    configs: list[Path]
    policy_dir: Path
    crm: Crm
    database_url: str


def _serve_crm(ready: threading.Event, stop: threading.Event, crm: Crm, port: int) -> None:
    @web.middleware
    async def count(request: web.Request, handler):  # type: ignore[no-untyped-def]
        if request.path == "/login":
            crm.logins.append(1)
        return await handler(request)

    async def main() -> None:
        app = create_crm_app(seed=7, per_project=20)
        app.middlewares.append(count)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.to_thread(stop.wait)
        await runner.cleanup()

    asyncio.run(main())


@pytest.fixture(scope="module")
def crm() -> Iterator[Crm]:
    port = free_port()
    found = Crm(f"http://127.0.0.1:{port}")
    ready, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=_serve_crm, args=(ready, stop, found, port), daemon=True)
    thread.start()
    assert ready.wait(30), "the demo CRM did not start"
    yield found
    stop.set()
    thread.join(10)


@pytest.fixture(scope="module")
def shared_schema() -> Iterator[str]:
    reason = _postgres_reason() or _redis_reason()
    if reason:
        pytest.skip(f"multi-host tests need PostgreSQL and Redis: {reason}")
    with postgres_schema("mh_") as url:
        yield url


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    import urllib.request

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/_dlp/healthz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gateway not ready in time:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, shared_schema: str,
            crm: Crm) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("multihost")
    policy_dir = base / "policy"
    policy_dir.mkdir()
    files = default_policy_files()
    for path in files:
        if path is not None:
            shutil.copy(path, policy_dir / path.name)
    prefix = f"dlpgw-mh-{secrets.token_hex(4)}:"
    crm_port = int(crm.url.rsplit(":", 1)[1])
    procs: list[subprocess.Popen[bytes]] = []
    urls, configs, logs = [], [], []
    for name in ("a", "b"):
        port = free_port()
        data = demo_config(crm_port, port, str(base / f"state-{name}"))
        data["store"] = {"url": shared_schema, "counters": "redis", "redis_url": REDIS_URL,
                         "redis_prefix": prefix}
        data["policy"] = {key: str(policy_dir / getattr(files, key).name)
                          for key in ("model", "policy", "grouping")}
        data["rate_guard"] = {"max_failures_per_ip": MAX_FAILURES_PER_IP,
                              "max_accounts_per_ip": 10_000}
        data["log_level"] = "WARNING"
        config = base / f"gateway-{name}.yaml"
        config.write_text(yaml.safe_dump(data))
        log = base / f"gateway-{name}.log"
        with log.open("wb") as out:
            procs.append(subprocess.Popen(
                [CLI, "serve", "--config", str(config), "--workers", "1"], cwd=ROOT,
                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}))
        urls.append(f"http://127.0.0.1:{port}")
        configs.append(config)
        logs.append(log)
    try:
        for proc, url, log in zip(procs, urls, logs, strict=True):
            _wait_ready(proc, url, log)
        yield Cluster(urls, configs, policy_dir, crm, shared_schema)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
        client.close()
