"""Gauges read from shared state (the approval store), refreshed on a timer.

Every worker refreshes them; their multiprocess mode (``livemostrecent``) keeps the
latest reading, so several workers and several hosts report the same number.
"""

from __future__ import annotations

import asyncio
import logging

from gateway.approvals.store import ApprovalStore
from gateway.metrics import GatewayMetrics

__all__ = ["refresh_approval_gauges"]

log = logging.getLogger("dlpgw.metrics")


async def refresh_approval_gauges(store: ApprovalStore, metrics: GatewayMetrics,
                                  interval: float = 15.0) -> None:
    """Keep ``approvals_pending`` current (first reading at once)."""
    while True:
        try:
            pending = await store.list(state="pending")
        except Exception as exc:
            log.error("approval gauges not refreshed: %s", type(exc).__name__)
        else:
            metrics.approvals_pending.set(len(pending))
        await asyncio.sleep(interval)
