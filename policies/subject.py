"""Who is asking: a user, the roles they hold in the request's tenant, and elsewhere.

Roles come from two places and are merged here, before Casbin runs:

* ``g`` rows (``g, alice, role:customer_manager, proj1``), inheritance included
  (``g, role:a, role:b, *`` makes every ``role:a`` also a ``role:b``);
* the caller's identity (JWT or API key): ``planner@proj1`` is a role in one tenant, a bare
  ``auditor`` is a global role (as if granted in ``*``).

Casbin's ``g()`` is deliberately not called in the matcher: its domain role manager caches
one RoleManager per domain it is asked about, so tenants taken from URLs grow it without
bound, and it cannot see identity roles. The index below is built once per policy load.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from policies.rules import ROLE_PREFIX

__all__ = ["GLOBAL", "GLOBAL_ROLES", "RoleIndex", "Subject", "identity_claims", "identity_role"]

GLOBAL = "*"
GLOBAL_ROLES = frozenset({"admin", "auditor"})
_CLAIM = re.compile(r"(?:role:)?([a-z0-9_-]{1,64})(?:@(\*|[a-z0-9][a-z0-9._-]{0,63}))?")
_EMPTY: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Subject:
    """The request subject handed to Casbin as ``r.sub``.

    ``names`` is what ``holds`` tests a rule's subject against: ``*`` (anyone), the user and
    every role held in the tenant or globally. ``elsewhere`` holds the roles the user has
    only in other tenants, and is empty as soon as the user holds anything here.
    """

    user: str
    tenant: str
    names: frozenset[str]
    elsewhere: frozenset[str]

    def __str__(self) -> str:
        return self.user


def identity_role(claim: str) -> tuple[str, str] | None:
    """``planner@proj1`` → (role:planner, proj1); ``auditor`` → (role:auditor, *)."""
    match = _CLAIM.fullmatch(claim.strip().lower())
    if match is None:
        return None
    return ROLE_PREFIX + match.group(1), match.group(2) or GLOBAL


def identity_claims(roles: Iterable[str], tenants: Iterable[str],
                    global_roles: Iterable[str] = GLOBAL_ROLES) -> tuple[str, ...]:
    """Scope an identity's bare roles to its tenants (``planner``, (proj1,) → planner@proj1).

    Claims already written ``role@tenant`` are kept, roles in ``global_roles`` stay global,
    and any other bare role of an identity without tenants is dropped (fail closed).
    """
    scopes = tuple(t.strip().lower() for t in tenants if t.strip())
    keep = frozenset(global_roles)
    out: list[str] = []
    for role in roles:
        name = role.strip().lower()
        if "@" in name or name.removeprefix(ROLE_PREFIX) in keep:
            out.append(name)
        else:
            out.extend(f"{name}@{tenant}" for tenant in scopes)
    return tuple(out)


class RoleIndex:
    """User → tenant → roles (inheritance closed), built from ``g`` rows."""

    def __init__(self, grouping: Iterable[tuple[str, ...]]) -> None:
        parents: dict[str, set[str]] = {}
        direct: dict[str, dict[str, set[str]]] = {}
        for user, role, domain in grouping:
            if user.startswith(ROLE_PREFIX):
                parents.setdefault(user, set()).add(role)
            else:
                direct.setdefault(user, {}).setdefault(domain, set()).add(role)
        self._parents = {role: frozenset(above) for role, above in parents.items()}
        self._users: Mapping[str, Mapping[str, frozenset[str]]] = MappingProxyType({
            user: MappingProxyType({d: self.closure(roles) for d, roles in domains.items()})
            for user, domains in direct.items()
        })

    def closure(self, roles: Iterable[str]) -> frozenset[str]:
        """The roles plus everything they inherit (cycles are harmless)."""
        seen: set[str] = set()
        stack = list(roles)
        while stack:
            role = stack.pop()
            if role not in seen:
                seen.add(role)
                stack.extend(self._parents.get(role, _EMPTY))
        return frozenset(seen)

    def subject(self, user: str, claims: Iterable[str], tenant: str) -> Subject:
        """Merge g-rule roles and identity claims into the subject for one request."""
        domains: dict[str, set[str]] = {d: set(r) for d, r in self._users.get(user, {}).items()}
        for claim in claims:
            parsed = identity_role(claim)
            if parsed is not None:
                role, domain = parsed
                domains.setdefault(domain, set()).update(self.closure([role]))
        here = domains.get(GLOBAL, set()) | (domains.get(tenant, set()) if tenant else set())
        elsewhere: set[str] = set()
        if not here and tenant:
            for domain, roles in domains.items():
                if domain not in (tenant, GLOBAL):
                    elsewhere |= roles
        return Subject(user, tenant, frozenset({GLOBAL, user, *here}), frozenset(elsewhere))
