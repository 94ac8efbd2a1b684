"""Pending export approvals with approve/deny, and the audit-chain verification status.

Reads: pending approvals (an admin sees all; an approver those of the tenants they are
approver for), the session's principal, the injected audit verifier. Writes: decisions
through ``ApprovalStore.approve``/``deny`` with the caller's tenants (``*`` for admins),
then the approval API's event hook (metrics and audit). Refuses (through the guard)
callers without ``approver``/``admin``; the store refuses self-approval, foreign tenants,
double votes and stale requests, and its reason is shown with 409 (404 when unknown).
The audit page is for ``READERS``; its result is cached for ``_VERIFY_TTL`` seconds so
reloading the page cannot make the gateway walk the chain again and again.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from gateway.approvals.store import Approval, ApprovalError, ApprovalStore
from gateway.exchange import Principal
from gateway.ui.options import UiOptions, VerifyHook
from gateway.ui.view import DECIDERS, READERS, PageHandler, View

__all__ = ["ApprovalPages", "AuditPage", "add_approval_pages"]

log = logging.getLogger("dlpgw.ui")
_DONE = {"approved": "Approved.", "approval_recorded": "Your approval is recorded; more "
         "approvers are needed.", "denied": "Denied."}
_MAX_COMMENT = 2000
_VERIFY_TTL = 30.0


def _tenants(principal: Principal) -> tuple[str, ...]:
    return ("*",) if "admin" in principal.roles else principal.tenants


def _decidable_by(principal: Principal, approval: Approval) -> bool:
    tenants = _tenants(principal)
    return "*" in tenants or (approval.tenant is not None and approval.tenant in tenants)


class ApprovalPages:
    def __init__(self, store: ApprovalStore, options: UiOptions) -> None:
        self._store = store
        self._options = options

    async def list(self, view: View, status: int = 200,
                   error: str | None = None) -> web.StreamResponse:
        pending = await self._store.list(state="pending")
        rows = [a for a in pending if _decidable_by(view.principal, a)]
        done = None if error else _DONE.get(view.request.query.get("done", ""))
        return view.render("approvals.html", status, approvals=rows, error=error, done=done,
                           now=time.time())

    async def decide(self, view: View) -> web.StreamResponse:
        approval_id = view.request.match_info["id"]
        action = view.request.match_info["action"]
        comment = view.form.get("comment", "").strip()
        if len(comment) > _MAX_COMMENT:
            raise web.HTTPBadRequest(reason="The comment is too long.")
        decide = self._store.approve if action == "approve" else self._store.deny
        try:
            approval = await decide(approval_id, view.principal.user,
                                    _tenants(view.principal), comment or None)
        except ApprovalError as exc:
            return await self.list(view, 404 if exc.code == "unknown" else 409, exc.message)
        kind = "denied" if action == "deny" else (
            "approved" if approval.state == "approved" else "approval_recorded")
        hook = self._options.on_approval_event
        if hook is not None:
            result = hook(kind, approval, view.principal.user)
            if inspect.isawaitable(result):
                await result
        return view.redirect(f"/approvals?done={kind}")


class AuditPage:
    def __init__(self, verify: VerifyHook | None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._verify = verify
        self._clock = clock
        self._last: tuple[float, dict[str, Any], float] | None = None

    async def show(self, view: View) -> web.StreamResponse:
        if self._verify is None:
            return view.render("audit.html", result=None, checked_at=None)
        now = self._clock()
        if self._last is None or now - self._last[0] >= _VERIFY_TTL:
            try:
                result = await self._verify()
            except Exception as exc:
                log.error("audit verification from the UI failed: %s", type(exc).__name__)
                return view.render("audit.html", 503, result=None, checked_at=None,
                                   failure=type(exc).__name__)
            self._last = (now, result, time.time())
        _, result, checked_at = self._last
        return view.render("audit.html", result=result, checked_at=checked_at)


def add_approval_pages(add: Callable[[str, str, frozenset[str], PageHandler], None],
                       store: ApprovalStore, options: UiOptions) -> None:
    pages = ApprovalPages(store, options)
    audit = AuditPage(options.verify_audit)
    add("GET", "/approvals", DECIDERS, pages.list)
    add("POST", "/approvals/{id:[A-Za-z0-9_-]+}/{action:approve|deny}", DECIDERS,
        pages.decide)
    add("GET", "/audit", READERS, audit.show)
