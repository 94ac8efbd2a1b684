"""The running parts of one gateway, shared with handlers through an ``AppKey``."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from detectors.engine import DetectionEngine
from detectors.fingerprint import Fingerprinter
from gateway.approvals.store import ApprovalStore
from gateway.config import Config
from gateway.counters import Counters, MemoryCounters
from gateway.metrics import GatewayMetrics
from gateway.pipeline import Pipeline
from gateway.routing import Router
from gateway.upstream import Upstreams
from policies.access import AccessPolicy
from reports.audit_log import AuditLog
from reports.database import Database
from reports.incident_store import IncidentStore
from reports.recorder import IncidentRecorder
from reports.webhooks import WebhookDispatcher

__all__ = ["GATEWAY", "Gateway"]


@dataclass(slots=True)
class Gateway:
    config: Config
    metrics: GatewayMetrics
    upstreams: Upstreams
    audit_log: AuditLog
    pipeline: Pipeline
    router: Router
    engine: DetectionEngine
    policy: AccessPolicy
    approvals: ApprovalStore
    fingerprinter: Fingerprinter
    database: Database
    incidents: IncidentStore
    recorder: IncidentRecorder
    selftest_failures: list[str] = field(default_factory=list)
    counters: Counters = field(default_factory=MemoryCounters)
    webhooks: WebhookDispatcher | None = None


GATEWAY = web.AppKey("gateway", Gateway)
