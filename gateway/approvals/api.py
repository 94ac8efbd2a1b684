"""Admin HTTP API for export approvals: request, list, approve, deny, revoke.

Reads: the caller's Principal (from the injected ``authenticate``), JSON bodies, the
approval store. Writes: approval rows through the store, and one ``on_event`` call per state
change. Denies with 401 when nobody is authenticated, 403 when the caller lacks the role
(``approver``/``admin`` to decide; requester, tenant approver or admin to revoke), 400 on
malformed requests, 404 for approvals the caller cannot see, 409 when the store refuses.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

from gateway.admin._http import fail, int_field, json_body, json_response, text_field
from gateway.approvals.store import Approval, ApprovalError, ApprovalRequest, ApprovalStore
from gateway.exchange import Principal
from gateway.paths import PathError, canonical_path
from policies.access import DEFAULT_TENANT_PATTERNS, tenant_from_path

__all__ = ["ApprovalApiOptions", "Authenticate", "EventHook", "add_approval_routes",
           "sorted_query"]

Authenticate = Callable[[web.Request], Awaitable[Principal | None]]
EventHook = Callable[[str, Approval, str], Awaitable[None] | None]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class ApprovalApiOptions:
    """``fingerprint`` maps a sorted query string to the ``query_fp`` the guard will check."""

    fingerprint: Callable[[str], str]
    on_event: EventHook | None = None
    approvals_needed: int = 1
    tenant_patterns: Sequence[str] = DEFAULT_TENANT_PATTERNS


def sorted_query(query: str) -> str:
    """The query with its ``&``-separated pairs sorted; empty pairs dropped."""
    return "&".join(sorted(pair for pair in query.removeprefix("?").split("&") if pair))


def _entities(body: dict[str, Any]) -> tuple[str, ...]:
    value = body.get("unmask", [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        fail(400, "invalid_field", "unmask must be a list of entity names")
    return tuple(value)


def _is(principal: Principal, role: str) -> bool:
    return role in principal.roles or "admin" in principal.roles


def _covers(tenants: tuple[str, ...], tenant: str | None) -> bool:
    return "*" in tenants or (tenant is not None and tenant in tenants)


def _can_view(principal: Principal, approval: Approval) -> bool:
    return ("admin" in principal.roles or approval.requester == principal.user
            or (_is(principal, "approver") and _covers(principal.tenants, approval.tenant)))


class _Handlers:
    def __init__(self, store: ApprovalStore, authenticate: Authenticate,
                 options: ApprovalApiOptions) -> None:
        self._store = store
        self._authenticate = authenticate
        self._options = options

    async def _principal(self, request: web.Request) -> Principal:
        principal = await self._authenticate(request)
        if principal is None:
            fail(401, "unauthenticated", "authentication required")
        return principal

    async def _event(self, kind: str, approval: Approval, actor: str) -> None:
        if self._options.on_event is not None:
            result = self._options.on_event(kind, approval, actor)
            if inspect.isawaitable(result):
                await result

    async def _visible(self, request: web.Request, principal: Principal) -> Approval:
        approval = await self._store.get(request.match_info["id"])
        if approval is None or not _can_view(principal, approval):
            fail(404, "not_found", "no such approval")
        return approval

    def _draft(self, body: dict[str, Any]) -> tuple[ApprovalRequest, str | None]:
        method = text_field(body, "method", True) or ""
        if method.upper() not in _METHODS:
            fail(400, "invalid_field", "method is not a known HTTP method")
        try:
            path = canonical_path(text_field(body, "path", True) or "")
        except PathError as exc:
            fail(400, "invalid_path", str(exc))
        query = body.get("query") or ""
        if not isinstance(query, str):
            fail(400, "invalid_field", "query must be a string")
        request = ApprovalRequest(
            method=method.upper(), path=path,
            query_fp=self._options.fingerprint(sorted_query(query)),
            reason=text_field(body, "reason", True) or "",
            max_records=int_field(body, "max_records", (1, 100_000), None),
            unmask=_entities(body), ticket=text_field(body, "ticket", False),
            ttl_seconds=int_field(body, "ttl_seconds", (60, 86_400), 3600),
            approvals_needed=self._options.approvals_needed)
        return request, tenant_from_path(path.lower(), self._options.tenant_patterns)

    async def create(self, request: web.Request) -> web.Response:
        principal = await self._principal(request)
        draft, tenant = self._draft(await json_body(request, True))
        if (tenant is not None and "admin" not in principal.roles
                and not _covers(principal.tenants, tenant)):
            fail(400, "unknown_tenant", "the path names a tenant you do not belong to")
        approval = await self._store.create(principal.user, tenant, draft)
        await self._event("created", approval, principal.user)
        return json_response(asdict(approval), status=201)

    async def list(self, request: web.Request) -> web.Response:
        principal = await self._principal(request)
        state = request.query.get("state")
        rows = await self._store.list(state=state)
        return json_response({"approvals": [asdict(a) for a in rows if _can_view(principal, a)]})

    async def get(self, request: web.Request) -> web.Response:
        principal = await self._principal(request)
        return json_response(asdict(await self._visible(request, principal)))

    async def decide(self, request: web.Request) -> web.Response:
        principal = await self._principal(request)
        if not _is(principal, "approver"):
            fail(403, "forbidden", "the approver role is required")
        comment = text_field(await json_body(request, False), "comment", False)
        tenants = ("*",) if "admin" in principal.roles else principal.tenants
        action = request.match_info["action"]
        decide = self._store.approve if action == "approve" else self._store.deny
        try:
            approval = await decide(request.match_info["id"], principal.user, tenants, comment)
        except ApprovalError as exc:
            fail(404 if exc.code == "unknown" else 409, exc.code, exc.message)
        kind = "denied" if action == "deny" else (
            "approved" if approval.state == "approved" else "approval_recorded")
        await self._event(kind, approval, principal.user)
        return json_response(asdict(approval))

    async def revoke(self, request: web.Request) -> web.Response:
        principal = await self._principal(request)
        current = await self._visible(request, principal)
        allowed = ("admin" in principal.roles or current.requester == principal.user
                   or (_is(principal, "approver") and _covers(principal.tenants, current.tenant)))
        if not allowed:
            fail(403, "forbidden", "only the requester or a tenant approver may revoke")
        try:
            approval = await self._store.revoke(current.id, principal.user)
        except ApprovalError as exc:
            fail(409, exc.code, exc.message)
        await self._event("revoked", approval, principal.user)
        return json_response(asdict(approval))


def add_approval_routes(app: web.Application, prefix: str, store: ApprovalStore,
                        authenticate: Authenticate, options: ApprovalApiOptions) -> None:
    """Register ``{prefix}approvals`` routes; call before any catch-all admin route."""
    handlers = _Handlers(store, authenticate, options)
    base = prefix + "approvals"
    item = base + "/{id:[A-Za-z0-9_-]+}"
    app.router.add_post(base, handlers.create)
    app.router.add_get(base, handlers.list)
    app.router.add_get(item, handlers.get)
    app.router.add_post(item + "/{action:approve|deny}", handlers.decide)
    app.router.add_post(item + "/revoke", handlers.revoke)
