"""RED metrics per request, and the blind spot of a gateway that does not inspect at all.

Reads: the route, method and final status of the exchange; whether the response came
from the upstream.
Writes: nothing on the exchange; Prometheus collectors only. Without the pii_mask stage
every upstream response with a body counts as ``inspection_skipped{reason="stage_disabled"}``.
Denies: never.
"""

from __future__ import annotations

import time
from typing import Any

from gateway.exchange import Exchange
from gateway.metrics import GatewayMetrics, method_label

__all__ = ["MetricsStage"]

_NO_BODY = frozenset({204, 304})


class MetricsStage:
    name = "metrics"
    critical = False
    observer = True

    def __init__(self, metrics: GatewayMetrics, inspecting: bool = True) -> None:
        self._m = metrics
        self._inspecting = inspecting
        self._uninspected = metrics.inspection_skipped.labels(reason="stage_disabled")
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    async def on_request(self, ex: Exchange) -> None:
        self._m.in_flight.inc()
        ex.add_done_callback(self._done)

    async def on_response(self, ex: Exchange) -> None:
        return None

    def _done(self, ex: Exchange) -> None:
        self._m.in_flight.dec()
        code = "aborted" if ex.aborted == "client" else str(ex.status)
        key = (ex.route, method_label(ex.request.method), code)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self._m.requests.labels(route=key[0], method=key[1], code=code),
                self._m.duration.labels(route=key[0]),
            )
        children[0].inc()
        children[1].observe(time.perf_counter() - ex.started)
        if not self._inspecting and _has_upstream_body(ex):
            self._uninspected.inc()


def _has_upstream_body(ex: Exchange) -> bool:
    resp = ex.response
    return (resp is not None and resp.from_upstream and ex.denial is None
            and ex.request.method != "HEAD" and resp.status not in _NO_BODY)
