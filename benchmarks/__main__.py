"""``make bench``: the gateway against a minimal aiohttp pass-through, in the same run.

Every scenario serves the same JSON list of 50 demo customers from the same upstream
process; the load comes from a second process (wrk if installed, else an aiohttp client).
Results print as a table with ratios to the baseline, and go to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import yaml

from benchmarks.loadgen import measure
from gateway.demo.data import generate_customers

ROOT = Path(__file__).resolve().parent
PATH = "/api/projects/proj1/customers?limit=50"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def process(args: list[str], ready_url: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(ready_url)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def gateway_args(workdir: Path, port: int, upstream: str, stages: list[str],
                 detection: dict[str, Any] | None = None) -> list[str]:
    cfg: dict[str, Any] = {
        "listen": {"host": "127.0.0.1", "port": port},
        "state_dir": str(workdir / f"state-{port}"),
        "upstreams": {"crm": {"url": upstream}},
        "routes": [{"name": "crm", "upstream": "crm"}],
        "secrets": {"hmac_key": "bench-hmac-key-0123456789"},
        "stages": stages,
        "log_level": "WARNING",
        "detection": detection or {},
    }
    path = workdir / f"gateway-{port}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return [sys.executable, "-m", "gateway", "serve", "--config", str(path), "--workers", "1"]


def run(seconds: int, connections: int) -> dict[str, Any]:
    body = orjson.dumps([c.to_dict() for c in generate_customers("proj1", 50, seed=7)])
    results: dict[str, Any] = {"body_bytes": len(body), "seconds": seconds,
                               "connections": connections, "scenarios": {}}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        body_file = workdir / "body.json"
        body_file.write_bytes(body)
        up_port = free_port()
        upstream = f"http://127.0.0.1:{up_port}"
        with process([sys.executable, "-m", "benchmarks.servers", "upstream", "--port",
                      str(up_port), "--body-file", str(body_file)], upstream + "/ready"):
            scenarios = {
                "passthrough": lambda port: [
                    sys.executable, "-m", "benchmarks.servers", "passthrough",
                    "--port", str(port), "--upstream", upstream],
                "gateway[metrics,audit]": lambda port: gateway_args(
                    workdir, port, upstream, ["metrics", "audit"]),
                "gateway[metrics]": lambda port: gateway_args(
                    workdir, port, upstream, ["metrics"]),
                "gateway[no stages]": lambda port: gateway_args(
                    workdir, port, upstream, []),
                "gateway[+pii_mask]": lambda port: gateway_args(
                    workdir, port, upstream, ["metrics", "audit", "pii_mask"]),
            }
            for name, make_args in scenarios.items():
                port = free_port()
                url = f"http://127.0.0.1:{port}"
                with process(make_args(port), url + PATH):
                    measure(url + PATH, 2, connections)
                    results["scenarios"][name] = measure(url + PATH, seconds, connections)
    return results


def report(results: dict[str, Any]) -> str:
    base = results["scenarios"]["passthrough"]
    lines = [
        f"body: {results['body_bytes']} bytes JSON (50 demo customers), "
        f"{results['connections']} connections, {results['seconds']} s per scenario, "
        f"load tool: {base.get('tool')}",
        f"{'scenario':28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>7}",
    ]
    for name, r in results["scenarios"].items():
        lines.append(
            f"{name:28} {r['rps']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
            f"{r['rps'] / base['rps']:7.2f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", 10)))
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    results = run(args.seconds, args.connections)
    text = report(results)
    print(text)
    out = ROOT / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2))
    (out / "latest.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
