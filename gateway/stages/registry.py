"""The explicit stage list: code decides what exists, config decides what runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from detectors.engine import DetectionEngine
from detectors.fingerprint import Fingerprinter
from gateway.approvals.store import ApprovalStore
from gateway.config import Config
from gateway.counters import Counters, MemoryCounters
from gateway.denial_watch import DenialWatch
from gateway.metrics import GatewayMetrics
from gateway.stage import Stage
from gateway.stages.audit import AuditStage
from gateway.stages.authn import AuthnStage
from gateway.stages.authz import AuthzStage
from gateway.stages.export_guard import ExportGuardStage
from gateway.stages.leak_watch import LeakWatchStage
from gateway.stages.metrics import MetricsStage
from gateway.stages.pii_mask import InspectLimits, PiiMaskStage
from gateway.stages.rate_guard import RateGuardStage
from policies.access import AccessPolicy
from policies.masking import DEFAULT_RULES
from reports.audit_log import AuditLog
from reports.database import Database
from reports.incident import IncidentSink

__all__ = ["STAGE_ORDER", "StageDeps", "default_stages"]

STAGE_ORDER = ("metrics", "audit", "authn", "rate_guard", "authz", "export_guard",
               "leak_watch", "pii_mask")


@dataclass(frozen=True, slots=True)
class StageDeps:
    """Everything stages may need, built once by ``create_app``."""

    metrics: GatewayMetrics
    audit_log: AuditLog
    fingerprinter: Fingerprinter
    engine: DetectionEngine
    policy: AccessPolicy
    approvals: ApprovalStore
    incidents: IncidentSink | None = None
    counters: Counters = field(default_factory=MemoryCounters)
    database: Database | None = None
    watermark_secret: bytes | None = None


def _denial_watch(config: Config, deps: StageDeps) -> DenialWatch | None:
    if deps.incidents is None:
        return None
    return DenialWatch(deps.counters, deps.incidents, deps.fingerprinter.fp,
                       config.incidents.denials_per_user,
                       config.incidents.denials_window_seconds)


_FACTORIES: dict[str, Callable[[Config, StageDeps], Stage]] = {
    "metrics": lambda cfg, deps: MetricsStage(deps.metrics, "pii_mask" in cfg.stages),
    "audit": lambda cfg, deps: AuditStage(deps.audit_log, deps.fingerprinter),
    "authn": lambda cfg, deps: AuthnStage.from_settings(cfg.auth, cfg.state_path,
                                                        deps.metrics),
    "rate_guard": lambda cfg, deps: RateGuardStage(cfg.rate_guard, deps.metrics,
                                                   deps.fingerprinter, deps.counters,
                                                   deps.incidents),
    "authz": lambda cfg, deps: AuthzStage(deps.policy, deps.metrics, cfg.policy,
                                          tuple(DEFAULT_RULES), _denial_watch(cfg, deps)),
    "export_guard": ExportGuardStage.build,
    "leak_watch": lambda cfg, deps: LeakWatchStage(
        deps.incidents, {r.name: r.inspection.expect_pii for r in cfg.routes}),
    "pii_mask": lambda cfg, deps: PiiMaskStage(
        deps.engine, deps.metrics, {r.name: r.inspection for r in cfg.routes},
        InspectLimits(cfg.limits.inspect_buffer_bytes, cfg.detection.inline_bytes,
                      cfg.detection.timeout_seconds),
    ),
}


def default_stages(config: Config, deps: StageDeps) -> list[Stage]:
    """Build the enabled stages, always in the canonical order."""
    unknown = [name for name in config.stages if name not in _FACTORIES]
    if unknown:
        raise ValueError(f"stages: unknown or not yet available: {', '.join(unknown)}")
    return [_FACTORIES[name](config, deps) for name in STAGE_ORDER if name in config.stages]
