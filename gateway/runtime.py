"""The running parts of one gateway, shared with handlers through an ``AppKey``."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from detectors.engine import DetectionEngine
from detectors.fingerprint import Fingerprinter
from gateway.approvals.store import ApprovalStore
from gateway.config import Config
from gateway.metrics import GatewayMetrics
from gateway.pipeline import Pipeline
from gateway.routing import Router
from gateway.upstream import Upstreams
from policies.access import AccessPolicy
from reports.request_log import RequestLog

__all__ = ["GATEWAY", "Gateway"]


@dataclass(slots=True)
class Gateway:
    config: Config
    metrics: GatewayMetrics
    upstreams: Upstreams
    request_log: RequestLog
    pipeline: Pipeline
    router: Router
    engine: DetectionEngine
    policy: AccessPolicy
    approvals: ApprovalStore
    fingerprinter: Fingerprinter
    selftest_failures: list[str] = field(default_factory=list)


GATEWAY = web.AppKey("gateway", Gateway)
