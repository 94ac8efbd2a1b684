"""RED metrics per request.

Reads: the route, method and final status of the exchange.
Writes: nothing on the exchange; Prometheus collectors only.
Denies: never.
"""

from __future__ import annotations

import time
from typing import Any

from gateway.exchange import Exchange
from gateway.metrics import GatewayMetrics, method_label

__all__ = ["MetricsStage"]


class MetricsStage:
    name = "metrics"
    critical = False
    observer = True

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._m = metrics
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    async def on_request(self, ex: Exchange) -> None:
        self._m.in_flight.inc()
        ex.add_done_callback(self._done)

    async def on_response(self, ex: Exchange) -> None:
        return None

    def _done(self, ex: Exchange) -> None:
        self._m.in_flight.dec()
        code = "aborted" if ex.aborted == "client" else str(ex.status)
        key = (ex.route, ex.request.method, code)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self._m.requests.labels(route=ex.route, method=method_label(key[1]), code=code),
                self._m.duration.labels(route=ex.route),
            )
        children[0].inc()
        children[1].observe(time.perf_counter() - ex.started)
