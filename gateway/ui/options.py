"""What the review UI is wired to: stores, authentication, hooks and session lifetimes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.approvals.api import EventHook
from gateway.approvals.store import ApprovalStore
from gateway.exchange import Principal, RequestData
from gateway.ui.session import SessionPolicy
from reports.incident import Incident
from reports.incident_store import IncidentStore

__all__ = ["AuditHook", "Identify", "RenderHook", "UiDeps", "UiOptions", "VerifyHook"]

Identify = Callable[[RequestData], Awaitable[Principal | None]]
RenderHook = Callable[[Incident, list[dict[str, Any]], str, str], tuple[bytes, str]]
AuditHook = Callable[[dict[str, Any]], Awaitable[object]]
VerifyHook = Callable[[], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class UiDeps:
    """``identify`` asks the gateway's authn stage who a request's credentials name."""

    incidents: IncidentStore
    approvals: ApprovalStore
    identify: Identify
    master_key: bytes


@dataclass(frozen=True, slots=True)
class UiOptions:
    """``render`` is the report hook shared with the JSON API (None: JSON reports only);
    ``audit`` appends one admin action durably; ``verify_audit`` checks the audit chain;
    ``on_approval_event`` is the approval API's hook (metrics and audit)."""

    render: RenderHook | None = None
    audit: AuditHook | None = None
    on_approval_event: EventHook | None = None
    verify_audit: VerifyHook | None = None
    session: SessionPolicy = field(default_factory=SessionPolicy)
    api_key_header: str = "X-API-Key"
