"""Access decisions on the canonical request, with the caller's field rights.

Reads: the principal (user, roles, tenants), the canonical path and method, the tenant
(from the path, or the route's query parameter). Writes: a verdict with the matched rule
and policy version, ``ex.metadata["tenant"]`` and ``ex.metadata["unmask"]`` (entities
this caller may see in clear, for pii_mask). Denies: 401 without a principal on a
non-public path, 403 ``forbidden`` on deny, 403 ``approval_required`` with how to ask,
and 503 (through the pipeline) when the policy cannot be evaluated. Repeated denials of
one user past ``incidents.denials_per_user`` are reported as an incident.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qs

from gateway.denial_watch import DenialWatch
from gateway.exchange import Exchange
from gateway.metrics import GatewayMetrics
from gateway.policy_config import PolicyConfig
from policies.access import AccessPolicy, Decision, PolicyError, tenant_from_path
from policies.subject import identity_claims

__all__ = ["AuthzStage"]

_CACHE_LIMIT = 4096


class AuthzStage:
    name = "authz"
    critical = True

    def __init__(self, policy: AccessPolicy, metrics: GatewayMetrics, config: PolicyConfig,
                 entities: Sequence[str], watch: DenialWatch | None = None) -> None:
        self._watch = watch
        self._policy = policy
        self._metrics = metrics
        self._config = config
        self._entities = tuple(entities)
        self._rights: dict[tuple[str, tuple[str, ...], str | None, str], frozenset[str]] = {}

    async def on_request(self, ex: Exchange) -> None:
        if ex.metadata.get("authn") == "public":
            return
        principal = ex.principal
        if principal is None:
            ex.deny(401, "authentication required", code="unauthenticated", stage=self.name)
            return
        tenant = self._tenant(ex)
        roles = identity_claims(principal.roles, principal.tenants)
        try:
            decision = self._policy.decide(principal.user, roles, tenant, ex.request.method,
                                           ex.request.path)
        except PolicyError:
            self._metrics.policy_decisions.labels(decision="error").inc()
            raise
        self._metrics.policy_decisions.labels(decision=decision.outcome).inc()
        ex.verdicts.append({"stage": self.name, "decision": decision.outcome,
                            "rule": list(decision.rule), "policy_version": decision.policy_version})
        ex.metadata["tenant"] = tenant
        if decision.outcome == "allow":
            ex.metadata["unmask"] = self._field_rights(principal.user, roles, tenant)
            return
        if decision.outcome == "approval_required":
            self._approval(ex, decision)
        else:
            ex.deny(403, decision.reason, code="forbidden", stage=self.name,
                    extra={"policy_version": decision.policy_version})
        if self._watch is not None:
            await self._watch.denied(ex, decision.outcome, tenant)

    async def on_response(self, ex: Exchange) -> None:
        return None

    def _tenant(self, ex: Exchange) -> str | None:
        patterns = self._config.tenant_patterns
        tenant = tenant_from_path(ex.request.path.lower(), patterns)
        if tenant is None and self._config.tenant_query and ex.request.query_string:
            values = parse_qs(ex.request.query_string).get(self._config.tenant_query)
            tenant = values[0].lower() if values else None
        return tenant

    def _field_rights(self, user: str, roles: tuple[str, ...],
                      tenant: str | None) -> frozenset[str]:
        key = (user, roles, tenant, self._policy.version)
        rights = self._rights.get(key)
        if rights is None:
            rights = frozenset(e for e in self._entities
                               if self._policy.may_unmask(user, roles, tenant, e))
            if len(self._rights) >= _CACHE_LIMIT:
                self._rights.clear()
            self._rights[key] = rights
        return rights

    def _approval(self, ex: Exchange, decision: Decision) -> None:
        request = {"method": ex.request.method, "path": ex.request.path,
                   "query": ex.request.query_string, "reason": "<why you need it>",
                   "max_records": 100}
        ex.deny(403, decision.reason, code="approval_required", stage=self.name, extra={
            "policy_version": decision.policy_version,
            "approval": {"endpoint": self._config.approval_url, "method": "POST",
                         "body": request},
        })
