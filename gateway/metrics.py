"""Prometheus metrics, one registry per application (no module-level collectors).

Labels are bounded: route names from config, HTTP methods folded to a fixed set,
status codes, entity types and fixed reason strings. Never a user, an IP or a raw path.

Several worker processes (``serve --workers N``) share one view through prometheus_client's
multiprocess mode: the supervisor sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers
import anything, every value then lives in a memory-mapped file per process, and
``render`` merges them. Each gauge therefore says how processes combine
(``multiprocess_mode``); the mode has no Info/Enum and no custom collectors, so none is used.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = [
    "INSPECTION_SKIP_REASONS",
    "KNOWN_METHODS",
    "MULTIPROC_ENV",
    "GatewayMetrics",
    "method_label",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
INSPECTION_SKIP_REASONS = (
    "unknown_type", "oversize", "route_disabled", "stage_disabled", "html_script",
)

KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)
_P = "dlpgw_"


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else "OTHER"


class GatewayMetrics:
    """All collectors of one gateway, registered on its own registry."""

    def __init__(self, version: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.multiprocess_dir = os.environ.get(MULTIPROC_ENV) or None
        r = self.registry
        self.requests = Counter(
            _P + "http_requests", "Requests handled", ["route", "method", "code"], registry=r
        )
        self.duration = Histogram(
            _P + "http_request_duration_seconds", "Time from request to last byte sent",
            ["route"], buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.upstream_duration = Histogram(
            _P + "upstream_request_duration_seconds", "Time to the upstream's response headers",
            ["upstream"], buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.upstream_errors = Counter(
            _P + "upstream_errors", "Upstream failures", ["reason"], registry=r
        )
        self.in_flight = Gauge(
            _P + "http_requests_in_flight", "Requests being handled", registry=r,
            multiprocess_mode="livesum",
        )
        self.stage_errors = Counter(
            _P + "stage_errors", "Exceptions raised by stages", ["stage", "critical"], registry=r
        )
        self.client_aborts = Counter(
            _P + "client_aborts", "Clients that went away before the response was sent",
            registry=r,
        )
        self.pii_findings = Counter(
            _P + "pii_findings", "PII findings", ["entity", "action"], registry=r
        )
        self.inspection_duration = Histogram(
            _P + "inspection_duration_seconds", "Time spent inspecting bodies",
            ["format"], buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.inspection_bytes = Counter(
            _P + "inspection_bytes", "Bytes inspected", ["format"], registry=r
        )
        self.inspection_skipped = Counter(
            _P + "inspection_skipped", "Bodies passed without inspection (blind spots)",
            ["reason"], registry=r,
        )
        self.inspection_cache = Counter(
            _P + "inspection_cache", "Masked-document cache lookups", ["result"], registry=r
        )
        self.body_rejected = Counter(
            _P + "body_rejected", "Bodies refused by size or decoding limits",
            ["direction", "reason"], registry=r,
        )
        self.authn_failures = Counter(
            _P + "authn_failures", "Requests refused by authentication",
            ["auth", "reason"], registry=r,
        )
        self.policy_decisions = Counter(
            _P + "policy_decisions", "Access decisions", ["decision"], registry=r
        )
        self.policy_reload = Gauge(
            _P + "policy_last_reload_success_timestamp_seconds",
            "When the access policy was last loaded successfully (the oldest worker's)",
            registry=r, multiprocess_mode="livemin",
        )
        self.exports_blocked = Counter(
            _P + "exports_blocked", "Exports stopped for want of a valid approval", ["rule"],
            registry=r,
        )
        self.approvals = Counter(
            _P + "approvals", "Approval state changes and uses", ["state"], registry=r
        )
        self.bruteforce_blocks = Counter(
            _P + "bruteforce_blocks", "Login attempts refused during a ban", registry=r
        )
        self.bruteforce_bans = Counter(
            _P + "bruteforce_bans", "Bans started by the brute-force guard", registry=r
        )
        self.policy_reload_failures = Counter(
            _P + "policy_reload_failures", "Policy reloads refused by validation", registry=r
        )
        self.audit_write_failures = Counter(
            _P + "audit_write_failures", "Audit entries that could not be written", registry=r
        )
        self.incidents = Counter(
            _P + "incidents", "Incident events recorded (after deduplication: see opened)",
            ["kind", "result"], registry=r,
        )
        self.incidents_open = Gauge(
            _P + "incidents_open", "Incidents not closed", ["severity"], registry=r,
            multiprocess_mode="livemostrecent",
        )
        self.incident_notifications_overdue = Gauge(
            _P + "incident_notifications_overdue",
            "Regulatory notifications past their deadline and not sent", registry=r,
            multiprocess_mode="livemostrecent",
        )
        self.incident_write_failures = Counter(
            _P + "incident_write_failures", "Incident events that could not be stored",
            registry=r,
        )
        self.audit_checkpoint = Gauge(
            _P + "audit_checkpoint_timestamp_seconds",
            "When the audit log was last checkpointed and signed", registry=r,
            multiprocess_mode="max",
        )
        self.approvals_pending = Gauge(
            _P + "approvals_pending", "Export approvals waiting for a decision", registry=r,
            multiprocess_mode="livemostrecent",
        )
        self.webhook_deliveries = Counter(
            _P + "webhook_deliveries", "Webhook delivery attempts", ["result"], registry=r
        )
        self.build_info = Gauge(
            _P + "build_info", "Build information", ["version", "python"], registry=r,
            multiprocess_mode="livemax",
        )
        self.build_info.labels(version=version, python=platform.python_version()).set(1)
        for reason in INSPECTION_SKIP_REASONS:
            self.inspection_skipped.labels(reason=reason)

    def declare_stages(self, stages: Iterable[tuple[str, bool]]) -> None:
        """Zero series for every stage's errors, so that rates and alerts see them from the
        start (the response stream counts as a critical stage)."""
        for name, critical in (*stages, ("stream", True)):
            self.stage_errors.labels(stage=name, critical=str(critical))

    def render(self) -> bytes:
        """The exposition text: this registry, or every worker's files merged."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(merged)
