"""Audit log cost: ``python -m benchmarks.audit``.

Measures, on the embedded SQLite database in a temporary directory:
- ``append`` on the calling thread (inside an event loop, as the audit stage calls it),
  p50 and p99, paced like request traffic and in a burst, next to an empty function
  call measured the same way (the floor), and the ratio to the 0.2 ms target;
- the event loop's lag (how late a 1 ms timer fires) while the writer thread commits,
  at the paced rate and with the writer saturated (on 2 shared cores the GIL and the
  scheduler, not the queue, decide the tail);
- sustained committed entries per second (append until the queue drains);
- ``append_durable`` latency (one awaited commit at a time).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reports.audit_chain import Signer, generate_key
from reports.audit_log import AuditLog, AuditOptions
from reports.audit_verify import verify_chain
from reports.database import open_database, sqlite_url

TARGET_MS = 0.2
PACED = 5_000
BURST = 20_000
SUSTAINED = 50_000
DURABLE = 300


def _entry(n: int) -> dict[str, Any]:
    return {
        "kind": "request", "actor": "bob", "request_id": f"{n:016x}", "method": "GET",
        "path": "/api/projects/proj1/customers/{hmac:3f9a1c2b}", "query_fp": "hmac:0c1d2e3f",
        "route": "crm", "upstream": "crm", "client_ip": "10.1.2.3", "status": 200,
        "bytes": 27_331, "duration_ms": 3.217, "denial": None, "aborted": False,
        "verdicts": [{"stage": "authn", "decision": "allow", "method": "api_key"},
                     {"stage": "authz", "decision": "allow", "rule": ["p", "planner"],
                      "policy_version": "a1b2c3"}],
        "tenant": "proj1", "pii": {"found": {"CN_MOBILE": 50, "PERSON": 50},
                                   "kept": {}, "records": 50},
    }


def _quantiles(samples_ns: list[int]) -> tuple[float, float]:
    q = statistics.quantiles(samples_ns, n=100)
    return q[49] / 1e6, q[98] / 1e6


async def _time_calls(call: Callable[[dict[str, Any]], None], count: int,
                      pace: float) -> list[int]:
    entries = [_entry(n) for n in range(count)]
    samples = []
    for n, entry in enumerate(entries):
        start = time.perf_counter_ns()
        call(entry)
        samples.append(time.perf_counter_ns() - start)
        if pace and n % 10 == 9:
            await asyncio.sleep(pace * 10)
    return samples


async def _loop_lag(stop: asyncio.Event) -> list[float]:
    lags = []
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append((time.perf_counter() - start - 0.001) * 1000)
    return lags


def _lag_summary(lags: list[float]) -> tuple[float, float, float]:
    return statistics.median(lags), statistics.quantiles(lags, n=100)[98], max(lags)


async def _measure(log: AuditLog) -> dict[str, Any]:
    def floor(entry: dict[str, Any]) -> None:
        return None

    stop = asyncio.Event()
    lag_task = asyncio.create_task(_loop_lag(stop))
    out: dict[str, Any] = {"floor": _quantiles(await _time_calls(floor, PACED, 1 / 5000))}
    stop.set()
    out["floor_lag"] = _lag_summary(await lag_task)
    stop = asyncio.Event()
    lag_task = asyncio.create_task(_loop_lag(stop))
    out["paced"] = _quantiles(await _time_calls(log.append, PACED, 1 / 5000))
    stop.set()
    out["paced_lag"] = _lag_summary(await lag_task)
    out["burst"] = _quantiles(await _time_calls(log.append, BURST, 0))
    await asyncio.to_thread(log.flush, 120)

    stop = asyncio.Event()
    lag_task = asyncio.create_task(_loop_lag(stop))
    entries = [_entry(n) for n in range(SUSTAINED)]
    start = time.perf_counter()
    for n, entry in enumerate(entries):
        log.append(entry)
        if n % 500 == 499:
            await asyncio.sleep(0)
    await asyncio.to_thread(log.flush, 300)
    out["sustained"] = SUSTAINED / (time.perf_counter() - start)
    stop.set()
    out["lag"] = _lag_summary(await lag_task)

    durable = []
    for n in range(DURABLE):
        begin = time.perf_counter_ns()
        await log.append_durable(_entry(n))
        durable.append(time.perf_counter_ns() - begin)
    out["durable"] = _quantiles(durable)
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(sqlite_url(Path(tmp) / "bench.db"))
        signer = Signer(generate_key(Path(tmp) / "k.pem"))
        log = AuditLog(db, signer, options=AuditOptions(queue_max=1_000_000))
        results = asyncio.run(_measure(log))
        log.close()
        start = time.perf_counter()
        report = verify_chain(db, {signer.key_id: signer.public_key})
        verify_rate = report.entries / (time.perf_counter() - start)
        db.close()
    print("audit log on SQLite (WAL), one writer thread, entries like the audit stage's")
    for name in ("floor", "paced", "burst"):
        p50, p99 = results[name]
        label = {"floor": "empty call (floor)", "paced": f"append, paced {PACED}/s",
                 "burst": f"append, burst of {BURST}"}[name]
        print(f"  {label:28} p50 {p50 * 1000:7.2f} µs   p99 {p99 * 1000:8.2f} µs")
    for key, label in (("floor_lag", "no audit (floor)"), ("paced_lag", f"at {PACED}/s"),
                       ("lag", "writer saturated")):
        lag50, lag99, lagmax = results[key]
        print(f"  event-loop lag, {label:17} p50 {lag50:.3f} ms  p99 {lag99:.3f} ms  "
              f"max {lagmax:.3f} ms")
    print(f"  sustained committed: {results['sustained']:,.0f} entries/s")
    d50, d99 = results["durable"]
    print(f"  append_durable (awaited commit): p50 {d50:.2f} ms  p99 {d99:.2f} ms")
    print(f"  verify: {verify_rate:,.0f} entries/s ({report.entries} entries, "
          f"{'intact' if report.ok else 'TAMPERED'})")
    p50 = results["paced"][0]
    print(f"target: append p50 {p50 * 1000:.2f} µs ≤ {TARGET_MS * 1000:.0f} µs: "
          f"{p50 / TARGET_MS:.3f}× the budget, {'OK' if p50 <= TARGET_MS else 'MISSED'}")


if __name__ == "__main__":
    main()
