"""Per-stage overhead on a non-export request: ``python -m benchmarks.stages``.

Times export_guard's and rate_guard's hooks for an ordinary (non-export, non-login)
request, next to an empty coroutine measured the same way in the same run (the floor).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from multidict import CIMultiDict

from detectors.finding import ScanReport
from detectors.fingerprint import Fingerprinter
from gateway.approvals.store import ApprovalStore
from gateway.exchange import Exchange, RequestData, ResponseData
from gateway.export_config import ExportConfig
from gateway.metrics import GatewayMetrics
from gateway.rate_config import RateGuardConfig
from gateway.stages.export_guard import ExportGuardStage
from gateway.stages.rate_guard import RateGuardStage

ROUNDS = 20_000


def _exchange() -> Exchange:
    request = RequestData(method="GET", path="/api/projects/proj1/customers/7",
                          query_string="", headers=CIMultiDict(), client_ip="127.0.0.1")
    ex = Exchange(request_id="bench", request=request)
    ex.response = ResponseData(status=200, headers=CIMultiDict(
        {"Content-Type": "application/json"}), body=b"{}", from_upstream=True)
    report = ScanReport()
    report.records = 1
    ex.metadata["pii"] = report
    return ex


async def _time(hook: Callable[[Exchange], Awaitable[None]]) -> list[float]:
    samples = []
    for _ in range(ROUNDS):
        ex = _exchange()
        start = time.perf_counter()
        await hook(ex)
        samples.append((time.perf_counter() - start) * 1e6)
    return samples


async def _run(store_dir: Path) -> dict[str, list[float]]:
    metrics = GatewayMetrics("bench")
    fp = Fingerprinter(b"bench-key-0123456789abcdef")
    store = ApprovalStore.open(store_dir / "approvals.sqlite3")
    guard = ExportGuardStage(ExportConfig(), store, fp.fp, metrics)
    rate = RateGuardStage(RateGuardConfig(), metrics, fp)

    async def nothing(ex: Exchange) -> None:
        return None

    async def export_guard(ex: Exchange) -> None:
        await guard.on_request(ex)
        await guard.on_response(ex)

    async def rate_guard(ex: Exchange) -> None:
        await rate.on_request(ex)
        await rate.on_response(ex)

    results = {name: await _time(hook) for name, hook in
               (("empty coroutine", nothing), ("export_guard", export_guard),
                ("rate_guard", rate_guard))}
    store.close()
    return results


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = asyncio.run(_run(Path(tmp)))
    print(f"per-request stage overhead, non-export request, {ROUNDS} rounds")
    for name, samples in results.items():
        q = statistics.quantiles(samples, n=100)
        print(f"  {name:16} p50 {q[49]:7.2f} µs   p99 {q[98]:7.2f} µs")
    p50 = statistics.quantiles(results["export_guard"], n=100)[49]
    print(f"target: export_guard p50 {p50:.2f} µs ≤ 200 µs {'OK' if p50 <= 200 else 'MISSED'}")


if __name__ == "__main__":
    main()
