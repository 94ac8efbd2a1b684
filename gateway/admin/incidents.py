"""Admin HTTP API for incidents: list, show, report manually, triage.

Reads: the caller's Principal, query filters, JSON bodies, the incident store. Writes:
incidents and their action log through the store, one ``audit`` call per change. Denies
with 401 when nobody is authenticated; 403 unless the caller is ``admin`` or
``compliance`` (auditors may read, never change); 400 on malformed input; 404 for an
unknown incident; 409 for a refused transition; 503 when the store fails.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import web

from gateway.admin._http import fail, int_field, json_body, json_response, text_field
from gateway.exchange import Principal
from reports.incident import (
    KINDS,
    SEVERITIES,
    STATUSES,
    Incident,
    IncidentEvent,
    Severity,
    parse_when,
)
from reports.incident_store import IncidentError, IncidentQuery, IncidentStore

__all__ = ["READERS", "WRITERS", "IncidentApiOptions", "add_incident_routes", "parse_time",
           "query_from"]

Authenticate = Callable[[web.Request], Awaitable[Principal | None]]
WRITERS = frozenset({"admin", "compliance"})
READERS = WRITERS | {"auditor"}
_ACTIONS = frozenset({"status", "assign", "note", "contain", "notified", "closeout", "aware"})


@dataclass(frozen=True, slots=True)
class IncidentApiOptions:
    """``audit(entry)`` appends one admin action to the audit log; ``on_created`` sees
    manually reported incidents (metrics, webhooks)."""

    audit: Callable[[dict[str, Any]], Awaitable[object]] | None = None
    render: Callable[[Incident, list[dict[str, Any]], str, str], tuple[bytes, str]] | None = (
        None)
    on_created: Callable[[Incident], None] | None = None


def parse_time(value: str | None) -> float | None:
    """An ISO 8601 time or a Unix timestamp; ``None`` for empty; 400 otherwise."""
    try:
        return parse_when(value)
    except ValueError as exc:
        fail(400, "invalid_query", str(exc))


def _choice(value: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    if value and value not in allowed:
        fail(400, "invalid_query", f"{name} must be one of {', '.join(allowed)}")
    return value or None


def query_from(params: Any) -> IncidentQuery:
    return IncidentQuery(
        status=_choice(params.get("status"), STATUSES, "status"),
        severity=_choice(params.get("severity"), SEVERITIES, "severity"),
        kind=_choice(params.get("kind"), KINDS, "kind"),
        category=params.get("category") or None,
        since=parse_time(params.get("since")), until=parse_time(params.get("until")),
        limit=_limit(params.get("limit")),
    )


def _limit(value: str | None) -> int:
    if not value:
        return 100
    if not value.isdigit() or not 1 <= int(value) <= 1000:
        fail(400, "invalid_query", "limit must be a number in 1..1000")
    return int(value)


class _Handlers:
    def __init__(self, store: IncidentStore, authenticate: Authenticate,
                 options: IncidentApiOptions) -> None:
        self._store = store
        self._authenticate = authenticate
        self._options = options

    async def _principal(self, request: web.Request, roles: frozenset[str]) -> Principal:
        principal = await self._authenticate(request)
        if principal is None:
            fail(401, "unauthenticated", "authentication required")
        if roles and not roles & set(principal.roles):
            fail(403, "forbidden", f"one of the roles {', '.join(sorted(roles))} is required")
        return principal

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args)
        except IncidentError as exc:
            fail(404 if exc.code == "not_found" else 409, exc.code, exc.message)
        except Exception as exc:
            fail(503, "store_failed", f"the incident store failed ({type(exc).__name__})")

    async def _audit(self, entry: dict[str, Any]) -> None:
        """The change is committed; the answer waits for its audit entry (or says 503)."""
        if self._options.audit is None:
            return
        try:
            await self._options.audit(entry)
        except Exception as exc:
            fail(503, "audit_unavailable",
                 f"the change was stored but could not be audited ({type(exc).__name__})")

    async def list(self, request: web.Request) -> web.Response:
        await self._principal(request, READERS)
        found = await self._call(self._store.search, query_from(request.query))
        return json_response({"incidents": [i.to_json() for i in found]})

    async def _incident(self, request: web.Request) -> Incident:
        incident: Incident | None = await self._call(self._store.get, request.match_info["id"])
        if incident is None:
            fail(404, "not_found", "no such incident")
        return incident

    async def get(self, request: web.Request) -> web.Response:
        await self._principal(request, READERS)
        incident = await self._incident(request)
        actions = await self._call(self._store.actions, incident.id)
        return json_response({"incident": incident.to_json(), "actions": actions})

    async def report(self, request: web.Request) -> web.Response:
        principal = await self._principal(request, READERS)
        incident = await self._incident(request)
        fmt = request.query.get("format", "json")
        lang = request.query.get("lang", "en")
        if fmt not in ("json", "html", "pdf") or lang not in ("en", "zh"):
            fail(400, "invalid_query", "format is json|html|pdf and lang is en|zh")
        actions = await self._call(self._store.actions, incident.id)
        await self._audit({"kind": "incident_report", "incident": incident.id,
                           "actor": principal.user, "format": fmt})
        if self._options.render is None:
            if fmt != "json":
                fail(400, "invalid_query", "only the json format is available")
            return json_response({"incident": incident.to_json(), "actions": actions})
        body, content_type = await asyncio.to_thread(self._options.render, incident,
                                                     actions, fmt, lang)
        headers = {"Content-Type": content_type}
        if fmt != "json":
            headers["Content-Disposition"] = f'attachment; filename="{incident.id}.{fmt}"'
        return web.Response(body=body, headers=headers)

    async def create(self, request: web.Request) -> web.Response:
        principal = await self._principal(request, frozenset())
        body = await json_body(request, True)
        severity = cast(Severity, _choice(text_field(body, "severity", True), SEVERITIES,
                                          "severity"))
        summary = text_field(body, "summary", True) or ""
        event = IncidentEvent(
            kind="manual", severity=severity, rule="manual_report",
            dedup_key=f"manual:{time.time_ns()}", summary=summary,
            tenant=text_field(body, "tenant", False), actor=principal.user,
            record_count=int_field(body, "record_count", (0, 10**9), 0),
            subject_count=int_field(body, "subject_count", (0, 10**10), 0),
            breach=body.get("breach") is True, masked=body.get("masked") is not False,
            categories=_categories(body))
        incident, _ = await self._call(self._store.record, event)
        if self._options.on_created is not None:
            self._options.on_created(incident)
        await self._audit({"kind": "incident_reported", "incident": incident.id,
                     "actor": principal.user})
        return json_response(incident.to_json(), status=201)

    async def act(self, request: web.Request) -> web.Response:
        principal = await self._principal(request, WRITERS)
        body = await json_body(request, True)
        action = text_field(body, "action", True) or ""
        if action not in _ACTIONS:
            fail(400, "invalid_field", f"action must be one of {', '.join(sorted(_ACTIONS))}")
        detail = {k: v for k, v in body.items() if k != "action"}
        for key, value in detail.items():
            if not isinstance(value, str | int | float | bool) or len(str(value)) > 2000:
                fail(400, "invalid_field", f"{key} must be a short scalar")
        incident = await self._call(self._store.change, request.match_info["id"],
                                    principal.user, action, detail)
        await self._audit({"kind": "incident_" + action, "incident": incident.id,
                     "actor": principal.user, "status": incident.status})
        return json_response(incident.to_json())


def _categories(body: dict[str, Any]) -> dict[str, int]:
    value = body.get("categories", {})
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and v >= 0 for k, v in value.items()):
        fail(400, "invalid_field", "categories must map entity names to counts")
    return value


def add_incident_routes(app: web.Application, prefix: str, store: IncidentStore,
                        authenticate: Authenticate,
                        options: IncidentApiOptions | None = None) -> None:
    handlers = _Handlers(store, authenticate, options or IncidentApiOptions())
    base = prefix + "incidents"
    item = base + "/{id:INC-[0-9A-Za-z-]+}"
    app.router.add_get(base, handlers.list)
    app.router.add_post(base, handlers.create)
    app.router.add_get(item, handlers.get)
    app.router.add_get(item + "/report", handlers.report)
    app.router.add_post(item + "/actions", handlers.act)
