"""Real gateway processes for the operations tests: ``serve --workers N`` in front of a
real upstream, scraped over HTTP."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from gateway.cli.demo import demo_config

START_TIMEOUT = 180.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(url: str, method: str = "GET", headers: dict[str, str] | None = None,
         body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(name, labels): value}`` from an exposition text."""
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def total(text: str, name: str, **labels: str) -> float:
    return sum(value for (sample, lbls), value in samples(text).items()
               if sample == name and set(labels.items()) <= set(lbls))


class GatewayProcess:
    """``dlp-gateway serve`` in a subprocess; stderr goes to a file the test can read."""

    def __init__(self, config: dict[str, Any], workdir: Path, workers: int) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = int(config["listen"]["port"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = workdir / "gateway.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.state_dir = Path(config["state_dir"])
        self.log_path = workdir / "serve.log"
        self.demo_requests = 0
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--config", str(self.config_path),
             "--workers", str(workers)],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=workdir,
            env={k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, pattern: str, timeout: float = START_TIMEOUT, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(re.findall(pattern, self.log())) >= count:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} in the gateway's log:\n{self.log()[-4000:]}")

    def worker_pids(self) -> list[int]:
        """The current workers, as the supervisor last logged them."""
        found = re.findall(r"(?:pids|workers) \[([\d, ]+)\]", self.log())
        assert found, self.log()[-2000:]
        return [int(pid) for pid in found[-1].split(",")]

    def metrics(self) -> str:
        status, body = http(self.url + "/_dlp/metrics")
        assert status == 200
        return body.decode()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._log.close()
        return code


def start_process(args: list[str], ready_url: str, workdir: Path) -> subprocess.Popen[bytes]:
    with (workdir / "process.log").open("wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if http(ready_url)[0] == 200:
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"{args} did not come up")


def demo_like_config(upstream_port: int, dead_port: int, state_dir: Path) -> dict[str, Any]:
    """The demo's configuration, plus a route to an upstream that is down."""
    config = demo_config(upstream_port, free_port(), str(state_dir))
    config["upstreams"]["legacy"] = {"url": f"http://127.0.0.1:{dead_port}",
                                     "timeouts": {"connect": 1}}
    config["routes"].append({"name": "legacy", "prefix": LIST + "/archived",
                              "upstream": "legacy"})
    config["exports"] = {"window_records": None}
    return config


@pytest.fixture(scope="session")
def demo_crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The demo CRM (``dlp-gateway demo-upstream``) in its own process."""
    port = free_port()
    workdir = tmp_path_factory.mktemp("crm")
    proc = start_process([sys.executable, "-m", "gateway", "demo-upstream", "--port", str(port)],
                         f"http://127.0.0.1:{port}/api/health", workdir)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def demo_gateway(demo_crm: int, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[GatewayProcess]:
    """``serve --workers 2`` with the demo's configuration in front of the demo CRM."""
    workdir = tmp_path_factory.mktemp("demo-gateway")
    config = demo_like_config(demo_crm, free_port(), workdir / "state")
    gateway = GatewayProcess(config, workdir, workers=2)
    try:
        gateway.wait_log(r"serving on .* with 2 workers")
        gateway.demo_requests = drive_demo_traffic(gateway.url)
        yield gateway
    finally:
        code = gateway.stop()
        assert code == 0, gateway.log()[-4000:]


USERS = ("alice", "bob", "carol", "dave", "erin")
LIST = "/api/projects/proj1/customers"
IDENTIFYING_PATHS = (
    "/api/projects/proj1/customers/110105199003071234",
    "/api/projects/proj1/customers/13812345678?email=alice@example.com",
    "/users/alice/10.1.2.3/profile",
)


def drive_demo_traffic(url: str) -> int:
    """The demo's story and some abuse; returns how many proxied requests were sent."""
    sent = 0

    def call(path: str, user: str | None = None, method: str = "GET",
             body: bytes | None = None, **headers: str) -> tuple[int, bytes]:
        nonlocal sent
        if user:
            headers["X-API-Key"] = f"demo-{user}"
        if not path.startswith("/_dlp/"):
            sent += 1
        return http(url + path, method, {k.replace("_", "-"): v for k, v in headers.items()},
                     body)

    for user in USERS:
        assert call(LIST + "?limit=20", user)[0] in (200, 403)
        assert call(LIST + "/1", user)[0] in (200, 403)
    assert call(LIST)[0] == 401
    assert call("/api/projects/proj2/customers", "alice")[0] == 403
    assert call("/api/notes/proj1", "bob")[0] in (200, 403)
    assert call(LIST + "/export.csv", "bob")[0] == 403
    status, body = call("/_dlp/approvals", "bob", "POST", orjson.dumps(
        {"method": "GET", "path": LIST + "/export.csv", "reason": "quarterly review",
         "max_records": 300}), Content_Type="application/json")
    assert status == 201, body
    approval = orjson.loads(body)["id"]
    assert call(f"/_dlp/approvals/{approval}/approve", "carol", "POST")[0] == 200
    assert call(LIST + "/export.csv", "bob", X_DLP_Approval=approval)[0] == 200
    assert call("/_dlp/approvals", "alice", "POST", orjson.dumps(
        {"method": "GET", "path": LIST + "/export.xlsx", "reason": "stays pending",
         "max_records": 100}),
        Content_Type="application/json")[0] == 201
    for _ in range(25):
        call("/login", method="POST", body=b"username=mallory&password=wrong",
             Content_Type="application/x-www-form-urlencoded", X_Forwarded_For="203.0.113.7")
    for path in IDENTIFYING_PATHS:
        call(path, "bob", X_Forwarded_For="198.51.100.23", X_Forwarded_User="alice")
    assert call(LIST + "/archived", "bob")[0] == 502
    assert call("/api/health", method="PROPFIND")[0] in (401, 403, 404, 405)
    assert call("/api/projects/proj1/../../etc/passwd", "bob")[0] in (400, 403, 404)
    return sent
