"""``python -m benchmarks.scale``: the whole gateway on several cores, against baselines
measured in the same run on the same machine.

Scenarios (each serves the demo's 50-customer JSON list from the same upstream):
- a minimal aiohttp pass-through with 1 worker process and with 2 (``SO_REUSEPORT``);
- nginx as a pure reverse proxy with 2 workers, if nginx is installed (the physical
  reference for this machine);
- the gateway with every stage on (API-key authentication, policy, export control,
  masking) with ``serve --workers 1`` and ``--workers 2``;
- the gateway with ``--workers 2`` when every response differs (the masked-document cache
  never hits, so every body is parsed, scanned and masked).

The upstream is nginx serving the file when nginx is installed (cheapest on the shared
CPUs), else an aiohttp server. Targets, for the 2-worker gateway against the 2-worker
pass-through: at least 0.5x its requests/s and at most 2x its p99.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import orjson
import yaml
from aiohttp import web

from benchmarks.__main__ import PATH, ROOT, free_port, wait_http
from benchmarks.loadgen import measure
from benchmarks.servers import passthrough_app, upstream_app
from gateway.cli.demo import demo_config
from gateway.demo.data import generate_customers

USER_KEY = {"X-API-Key": "demo-alice"}
TARGET_RPS, TARGET_P99 = 0.5, 2.0
NGINX_EVENTS = "events { worker_connections 4096; }\n"


@contextmanager
def running(args: list[str], log: Path, ready: Callable[[], bool],
            timeout: float = 240.0) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{args[:4]} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def nginx_conf(workdir: Path, port: int, server: str, http: str = "") -> Path:
    """A self-contained nginx config (prefix, pid, logs and temp files in ``workdir``)."""
    temp = " ".join(f"{kind}_temp_path {workdir}/{kind};"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = workdir / f"nginx-{port}.conf"
    conf.write_text(
        f"worker_processes 2; daemon off; pid {workdir}/nginx-{port}.pid;\n"
        f"error_log {workdir}/nginx-{port}.err warn;\n{NGINX_EVENTS}"
        f"http {{ access_log off; {temp} {http}\n"
        f"  server {{ listen 127.0.0.1:{port} reuseport; {server} }}\n}}\n")
    return conf


def nginx_args(workdir: Path, port: int, server: str, http: str = "") -> list[str]:
    return ["nginx", "-p", str(workdir), "-e", str(workdir / f"nginx-{port}.err"),
            "-c", str(nginx_conf(workdir, port, server, http))]


def file_exists(path: Path) -> Callable[[], bool]:
    return path.exists


def log_has(log: Path, pattern: str) -> Callable[[], bool]:
    return lambda: log.exists() and re.search(pattern, log.read_text(errors="replace")) is not None


def http_up(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            wait_http(url, timeout=0.2)
        except RuntimeError:
            return False
        return True
    return check


@contextmanager
def passthrough(workdir: Path, port: int, upstream: str,
                workers: int) -> Iterator[None]:
    """``workers`` pass-through processes sharing the port with ``SO_REUSEPORT``."""
    with ExitStack() as stack:
        for i in range(workers):
            ready = workdir / f"passthrough-{port}-{i}.ready"
            stack.enter_context(running(
                [sys.executable, "-m", "benchmarks.scale", "passthrough", "--port", str(port),
                 "--upstream", upstream, "--ready-file", str(ready)],
                workdir / f"passthrough-{port}-{i}.log", file_exists(ready)))
        yield


def gateway_config(workdir: Path, port: int, upstream_port: int) -> Path:
    config = demo_config(upstream_port, port, str(workdir / f"state-{port}"))
    config["log_level"] = "WARNING"
    config["exports"] = {"window_records": 10**9}
    path = workdir / f"gateway-{port}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@contextmanager
def gateway(workdir: Path, port: int, upstream_port: int, workers: int) -> Iterator[None]:
    path = gateway_config(workdir, port, upstream_port)
    log = workdir / f"gateway-{port}.log"
    ready = (log_has(log, rf"serving on .* with {workers} workers") if workers > 1
             else http_up(f"http://127.0.0.1:{port}/_dlp/healthz"))
    args = [sys.executable, "-m", "gateway", "serve", "--config", str(path),
            "--workers", str(workers)]
    with running(args, log, ready):
        preflight(f"http://127.0.0.1:{port}{PATH}")
        yield


def preflight(url: str) -> None:
    """The gateway must answer 200 with masked values, or the numbers mean nothing."""
    import urllib.request

    with urllib.request.urlopen(urllib.request.Request(url, headers=USER_KEY)) as resp:
        masked = int(resp.headers.get("X-DLP-Masked", "0"))
        if resp.status != 200 or masked < 50:
            raise RuntimeError(f"preflight: status {resp.status}, {masked} values masked")


def run(seconds: int, connections: int) -> dict[str, Any]:
    customers = [c.to_dict() for c in generate_customers("proj1", 50, seed=7)]
    body = orjson.dumps(customers)
    results: dict[str, Any] = {"body_bytes": len(body), "seconds": seconds,
                               "connections": connections, "cores": os.cpu_count(),
                               "scenarios": {}}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        os.chmod(workdir, 0o755)
        (workdir / "body.json").write_bytes(body)
        have_nginx = shutil.which("nginx") is not None
        up_port, vary_port = free_port(), free_port()
        if have_nginx:
            up_args = nginx_args(workdir, up_port, f"location / {{ root {workdir}; "
                                 "try_files /body.json =404; default_type application/json; }")
        else:
            up_args = [sys.executable, "-m", "benchmarks.scale", "upstream", "--port",
                       str(up_port), "--body-file", str(workdir / "body.json")]
        results["upstream"] = "nginx (static file)" if have_nginx else "aiohttp"
        upstream = f"http://127.0.0.1:{up_port}"
        vary_args = [sys.executable, "-m", "benchmarks.scale", "upstream", "--port",
                     str(vary_port), "--body-file", str(workdir / "body.json"), "--vary"]
        with running(up_args, workdir / "upstream.log", http_up(upstream + PATH)), \
                running(vary_args, workdir / "vary.log",
                        http_up(f"http://127.0.0.1:{vary_port}{PATH}")):
            scenarios: dict[str, Callable[[int], Any]] = {
                "aiohttp pass-through x1": lambda p: passthrough(workdir, p, upstream, 1),
                "aiohttp pass-through x2": lambda p: passthrough(workdir, p, upstream, 2),
            }
            if have_nginx:
                pool = f"upstream crm {{ server 127.0.0.1:{up_port}; keepalive 64; }}"
                proxy = ("location / { proxy_pass http://crm; proxy_http_version 1.1; "
                         'proxy_set_header Connection ""; }')
                scenarios["nginx reverse proxy x2"] = lambda p: running(
                    nginx_args(workdir, p, proxy, pool), workdir / f"nginx-{p}.log",
                    http_up(f"http://127.0.0.1:{p}{PATH}"))
            scenarios["gateway x1 (all stages)"] = lambda p: gateway(workdir, p, up_port, 1)
            scenarios["gateway x2 (all stages)"] = lambda p: gateway(workdir, p, up_port, 2)
            scenarios["gateway x2, every body new"] = lambda p: gateway(
                workdir, p, vary_port, 2)
            for name, start in scenarios.items():
                port = free_port()
                url = f"http://127.0.0.1:{port}{PATH}"
                with start(port):
                    measure(url, 2, connections, USER_KEY)
                    results["scenarios"][name] = measure(url, seconds, connections, USER_KEY)
    return results


def report(results: dict[str, Any]) -> str:
    scen = results["scenarios"]
    base = scen["aiohttp pass-through x2"]
    lines = [
        f"body: {results['body_bytes']} bytes JSON (50 demo customers), "
        f"{results['connections']} connections, {results['seconds']} s per scenario, "
        f"{results['cores']} cores, upstream: {results['upstream']}, "
        f"load tool: {base.get('tool')}",
        f"{'scenario':30} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
        f"{'rps/pt2':>8} {'p99/pt2':>8}",
    ]
    for name, r in scen.items():
        lines.append(f"{name:30} {r['rps']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
                     f"{r['errors']:7.0f} {r['rps'] / base['rps']:8.2f} "
                     f"{r['p99_ms'] / base['p99_ms']:8.2f}")
    gw = scen["gateway x2 (all stages)"]
    rps_ok = gw["rps"] >= TARGET_RPS * base["rps"]
    p99_ok = gw["p99_ms"] <= TARGET_P99 * base["p99_ms"]
    lines.append(f"target (gateway x2 vs pass-through x2): rps >= {TARGET_RPS}x "
                 f"{'met' if rps_ok else 'NOT MET'}, p99 <= {TARGET_P99}x "
                 f"{'met' if p99_ok else 'NOT MET'}")
    return "\n".join(lines)


def _serve(app: web.Application, port: int, ready_file: str | None) -> None:
    def started(message: str) -> None:
        if ready_file:
            Path(ready_file).touch()

    web.run_app(app, host="127.0.0.1", port=port, access_log=None, reuse_port=True,
                print=started)


def _vary(body: bytes) -> web.Application:
    """The same list with a different customer number each time (never cached)."""
    customers = orjson.loads(body)
    variants = []
    for i in range(4096):
        customers[0]["customer_no"] = f"C{9000000 + i}"
        variants.append(orjson.dumps(customers))
    app = web.Application()
    counter = iter(range(10**12))

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=variants[next(counter) % len(variants)],
                            content_type="application/json")

    app.router.add_get("/{tail:.*}", handler)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("role", nargs="?", choices=["bench", "passthrough", "upstream"],
                        default="bench")
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", 10)))
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--port", type=int)
    parser.add_argument("--upstream")
    parser.add_argument("--body-file")
    parser.add_argument("--vary", action="store_true")
    parser.add_argument("--ready-file")
    args = parser.parse_args()
    if args.role == "passthrough":
        _serve(passthrough_app(args.upstream), args.port, args.ready_file)
        return
    if args.role == "upstream":
        body = Path(args.body_file).read_bytes()
        _serve(_vary(body) if args.vary else upstream_app(body), args.port, args.ready_file)
        return
    results = run(args.seconds, args.connections)
    text = report(results)
    print(text)
    out = ROOT / "results"
    out.mkdir(exist_ok=True)
    (out / "scale.json").write_text(json.dumps(results, indent=2))
    (out / "scale.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
