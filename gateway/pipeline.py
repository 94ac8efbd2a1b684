"""Runs the stages around the upstream call, failing closed on critical errors."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable, Sequence

from gateway.exchange import Exchange
from gateway.metrics import GatewayMetrics
from gateway.stage import Stage
from gateway.upstream import BODY_ERRORS, classify_body_error
from reports.incident import IncidentEvent, IncidentSink

__all__ = ["Pipeline"]

log = logging.getLogger("dlpgw.pipeline")

Forward = Callable[[Exchange], Awaitable[None]]


class Pipeline:
    def __init__(
        self,
        stages: Sequence[Stage],
        forward: Forward,
        metrics: GatewayMetrics,
        incidents: IncidentSink | None,
    ) -> None:
        self.stages = tuple(stages)
        self._forward = forward
        self._metrics = metrics
        self._incidents = incidents

    async def handle(self, ex: Exchange) -> None:
        """Run the stages; an exchange refused at the front door meets only observers."""
        rejected = ex.response is not None
        entered: list[Stage] = []
        for stage in self.stages:
            if rejected and not getattr(stage, "observer", False):
                continue
            entered.append(stage)
            if not await self._run(stage, ex, "on_request"):
                break
            if ex.response is not None and not rejected:
                break
        if ex.response is None:
            await self._forward(ex)
        for stage in reversed(entered):
            await self._run(stage, ex, "on_response")

    async def _run(self, stage: Stage, ex: Exchange, hook: str) -> bool:
        try:
            await getattr(stage, hook)(ex)
        except BODY_ERRORS as exc:
            status, code, reason = classify_body_error(exc)
            ex.deny(status, reason, code=code, stage=stage.name)
            return False
        except Exception as exc:
            self._metrics.stage_errors.labels(stage=stage.name, critical=str(stage.critical)).inc()
            # Exception messages may quote the data being scanned: log only where it was.
            where = traceback.extract_tb(exc.__traceback__)[-1]
            log.error(
                "stage %s.%s failed: %s at %s:%s (request %s)",
                stage.name, hook, type(exc).__name__, where.filename, where.lineno,
                ex.request_id,
            )
            if not stage.critical:
                return True
            ex.deny(
                503,
                f"the {stage.name} stage failed; the request was stopped (fail closed)",
                code="stage_failed",
                stage=stage.name,
            )
            await self._report(stage.name, hook, ex, type(exc).__name__)
            return False
        return True

    async def _report(self, stage: str, hook: str, ex: Exchange, error: str) -> None:
        if self._incidents is None:
            return
        event = IncidentEvent(
            kind="fail_closed", severity="high", rule=f"stage_failed:{stage}",
            dedup_key=f"fail_closed:{stage}:{hook}:{error}",
            summary=f"the {stage} stage failed ({error}); requests were refused with 503",
            route=ex.route or None, upstream=ex.upstream or None, request_id=ex.request_id,
            containment="request refused (503, fail closed)",
            detail={"stage": stage, "hook": hook, "error": error})
        try:
            await self._incidents.report(event)
        except Exception as exc:
            log.error("could not record the fail-closed incident: %s", type(exc).__name__)
