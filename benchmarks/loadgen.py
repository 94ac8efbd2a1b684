"""Load generation from a second process: wrk when installed, else an aiohttp client."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import subprocess
import sys
import time

import aiohttp


def _wrk_ms(out: str, percentile: int) -> float:
    match = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"cannot read p{percentile} from wrk output:\n{out}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[match.group(2)]
    return float(match.group(1)) * scale


def run_wrk(url: str, seconds: int, connections: int,
            headers: dict[str, str] | None = None) -> dict[str, float]:
    extra = [arg for name, value in (headers or {}).items() for arg in ("-H", f"{name}: {value}")]
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", *extra, url],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _wrk_ms(out, 50)
    p99 = _wrk_ms(out, 99)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99,
            "errors": float(errors.group(1)) if errors else 0.0}


async def _aiohttp_load(url: str, seconds: float, connections: int,
                        headers: dict[str, str] | None = None) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            async with session.get(url, headers=headers) as resp:
                await resp.read()
                if resp.status != 200:
                    errors += 1
            latencies.append((time.perf_counter() - start) * 1000)

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        began = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(connections)))
        elapsed = time.perf_counter() - began
    quantiles = statistics.quantiles(latencies, n=100)
    return {"rps": len(latencies) / elapsed, "p50_ms": quantiles[49], "p99_ms": quantiles[98],
            "errors": float(errors)}


def measure(url: str, seconds: int, connections: int,
            headers: dict[str, str] | None = None) -> dict[str, float]:
    """Run the load in a separate process and return rps, p50 and p99."""
    if shutil.which("wrk"):
        result = run_wrk(url, seconds, connections, headers)
        result["tool"] = "wrk"  # type: ignore[assignment]
        return result
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.loadgen", url, str(seconds), str(connections),
         json.dumps(headers or {})],
        capture_output=True, text=True, check=True,
    ).stdout
    result = json.loads(out)
    result["tool"] = "aiohttp"
    return result  # type: ignore[no-any-return]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("seconds", type=float)
    parser.add_argument("connections", type=int)
    parser.add_argument("headers", nargs="?", default="{}", help="JSON object")
    a = parser.parse_args()
    print(json.dumps(asyncio.run(_aiohttp_load(a.url, a.seconds, a.connections,
                                               json.loads(a.headers)))))
