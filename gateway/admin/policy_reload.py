"""``POST {prefix}policy/reload``: reload the access policy (admins only, audited)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.exchange import Principal
from gateway.policy_watch import PolicyWatcher
from reports.audit_log import AuditLog, AuditWriteError

__all__ = ["add_policy_reload_route"]

Identify = Callable[[web.Request], Awaitable[Principal | None]]


def add_policy_reload_route(app: web.Application, prefix: str, watcher: PolicyWatcher,
                            identify: Identify, log: AuditLog) -> None:
    async def reload(request: web.Request) -> web.Response:
        principal = await identify(request)
        if principal is None:
            return web.json_response({"error": "unauthenticated"}, status=401)
        if "admin" not in principal.roles:
            return web.json_response({"error": "forbidden",
                                      "reason": "the admin role is required"}, status=403)
        ok, message = watcher.reload(f"admin {principal.user}")
        try:
            await log.append_durable({"kind": "policy_reload", "actor": principal.user,
                                      "ok": ok, "message": message})
        except AuditWriteError:
            return web.json_response({"ok": ok, "message": message,
                                      "error": "audit_unavailable"}, status=503)
        return web.json_response({"ok": ok, "message": message}, status=200 if ok else 422)

    app.router.add_post(prefix + "policy/reload", reload)
