"""The incident record (canonical JSON) and the event that opens or extends one.

Never raw PII: categories, counts, field paths, masked previews and keyed fingerprints
only. The actor is a pseudonym (a keyed fingerprint of the user id) unless the operator
configured otherwise; evidence is SHA-256 digests plus an audit-log checkpoint.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

__all__ = [
    "KINDS",
    "SEVERITIES",
    "STATUSES",
    "TRANSITIONS",
    "Incident",
    "IncidentEvent",
    "IncidentSink",
    "Severity",
    "parse_when",
]

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
STATUSES: tuple[str, ...] = ("open", "investigating", "contained", "closed", "false_positive")
CLOSED = frozenset({"closed", "false_positive"})
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"investigating", "contained", "closed", "false_positive"}),
    "investigating": frozenset({"contained", "closed", "false_positive"}),
    "contained": frozenset({"investigating", "closed"}),
    "closed": frozenset({"investigating"}),
    "false_positive": frozenset({"investigating"}),
}
KINDS: tuple[str, ...] = (
    "export_blocked", "policy_denials", "brute_force", "fail_closed", "leak_detected",
    "volume_anomaly", "manual",
)


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    """One observation. Events with the same ``dedup_key`` inside the window share an incident.

    ``breach`` says personal data actually left (it starts the notification clocks); a
    blocked export or a denied request is a near miss.
    ``categories`` maps entity type to count. ``detail`` holds short, PII-free strings
    (reason codes, stage names, field paths, masked previews, fingerprints).
    """

    kind: str
    severity: Severity
    rule: str
    dedup_key: str
    summary: str
    route: str | None = None
    upstream: str | None = None
    tenant: str | None = None
    actor: str | None = None
    client_ip: str | None = None
    request_id: str | None = None
    categories: dict[str, int] = field(default_factory=dict)
    record_count: int = 0
    subject_count: int = 0
    masked: bool = True
    breach: bool = False
    evidence: dict[str, str] = field(default_factory=dict)
    containment: str | None = None
    detail: dict[str, str] = field(default_factory=dict)


def parse_when(value: str | None) -> float | None:
    """An ISO 8601 time or a Unix timestamp (``None`` for empty); ValueError otherwise."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise ValueError(f"not an ISO 8601 time or Unix timestamp: {value[:40]!r}") from None


class IncidentSink(Protocol):
    """Where stages and the pipeline report events (the store, through a recorder)."""

    async def report(self, event: IncidentEvent) -> None: ...


@dataclass(slots=True)
class Incident:
    """The canonical record; ``to_json`` is what the API, reports and webhooks carry."""

    id: str
    kind: str
    status: str
    severity: str
    rule: str
    summary: str
    dedup_key: str
    created_at: float
    updated_at: float
    last_seen_at: float
    event_count: int = 1
    route: str | None = None
    upstream: str | None = None
    tenant: str | None = None
    actor: str | None = None
    client_ip: str | None = None
    assignee: str | None = None
    categories: list[dict[str, Any]] = field(default_factory=list)
    record_count: int = 0
    subject_count: int = 0
    masked: bool = True
    breach: bool = False
    cac_grade: str | None = None
    gdpr_risk: str | None = None
    times: dict[str, float | None] = field(default_factory=dict)
    containment: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    closeout: dict[str, Any] = field(default_factory=dict)
    request_ids: list[str] = field(default_factory=list)
    detail: dict[str, str] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Incident:
        return cls(**data)
