"""Repeated policy denials of one user become an incident (probing beyond one's scope).

Each denial adds to the user's sliding-window count (``Counters``, keyed by a fingerprint
of the user id); from the threshold on, every denial is reported under one deduplication
key, so the incident's counter shows how far past the threshold the user went.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway.counters import Counters
from gateway.exchange import Exchange
from reports.incident import IncidentEvent, IncidentSink

__all__ = ["DenialWatch"]


@dataclass(frozen=True, slots=True)
class DenialWatch:
    counters: Counters
    incidents: IncidentSink
    fingerprint: Callable[[str], str]
    threshold: int
    window: float

    async def denied(self, ex: Exchange, code: str, tenant: str | None) -> None:
        if ex.principal is None:
            return
        actor = self.fingerprint(ex.principal.user)
        count = await self.counters.add("denials:" + actor, 1, self.window)
        if count < self.threshold:
            return
        await self.incidents.report(IncidentEvent(
            kind="policy_denials", severity="medium", rule="denials_per_user",
            dedup_key=f"policy_denials:{actor}",
            summary=(f"{count} requests of one user refused by policy within "
                     f"{self.window:.0f} s (threshold {self.threshold})"),
            route=ex.route or None, tenant=tenant, actor=actor,
            client_ip=ex.request.client_ip, request_id=ex.request_id,
            detail={"last_code": code, "path_class": ex.route or ""}))
