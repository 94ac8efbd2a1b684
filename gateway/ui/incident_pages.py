"""Incident pages: the filtered list, one incident with its triage forms, report downloads.

Reads: query filters (as the JSON API parses them), the incident store, the session's
principal. Writes: status changes, assignments and notes through ``IncidentStore.change``
(actor: the logged-in user), one audit entry per change or report download. Refuses
(through the guard) callers outside ``READERS`` and changes by anyone outside ``WRITERS``;
answers 404 for an unknown incident or report format, 409 with the store's reason for a
refused transition, 400 for a malformed form.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from gateway.admin.incidents import query_from
from gateway.ui.options import UiOptions
from gateway.ui.view import READERS, WRITERS, PageHandler, View
from reports.incident import KINDS, SEVERITIES, STATUSES, TRANSITIONS, Incident
from reports.incident_store import IncidentError, IncidentStore

__all__ = ["IncidentPages", "add_incident_pages"]

_ITEM = "/incidents/{id:INC-[0-9A-Za-z-]+}"
_DONE = {"status": "Status changed.", "assign": "Assignee saved.", "note": "Note added."}
_FILTERS = ("status", "severity", "kind", "category", "since", "until")
_MAX_NOTE = 2000
_MAX_ASSIGNEE = 120


def _as_utc(value: str) -> str:
    """A ``datetime-local`` value (no zone) is read as UTC, as the page says."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return value + "+00:00" if moment.tzinfo is None else value


def _detail(action: str, form: Mapping[str, str]) -> dict[str, Any]:
    if action == "status":
        status = form.get("status", "")
        if status not in STATUSES:
            raise web.HTTPBadRequest(reason="Choose a status from the list.")
        return {"status": status}
    if action == "assign":
        assignee = form.get("assignee", "").strip()
        if len(assignee) > _MAX_ASSIGNEE:
            raise web.HTTPBadRequest(reason="The assignee name is too long.")
        return {"assignee": assignee}
    if action == "note":
        note = form.get("note", "").strip()
        if not note or len(note) > _MAX_NOTE:
            raise web.HTTPBadRequest(reason=f"A note has 1 to {_MAX_NOTE} characters.")
        return {"note": note}
    raise web.HTTPBadRequest(reason="Unknown action.")


class IncidentPages:
    def __init__(self, store: IncidentStore, options: UiOptions) -> None:
        self._store = store
        self._options = options

    @property
    def formats(self) -> tuple[str, ...]:
        return ("json", "html", "pdf") if self._options.render is not None else ("json",)

    async def _audit(self, entry: dict[str, Any]) -> None:
        if self._options.audit is not None:
            await self._options.audit(entry)

    async def _incident(self, view: View) -> Incident:
        incident = await asyncio.to_thread(self._store.get, view.request.match_info["id"])
        if incident is None:
            raise web.HTTPNotFound(reason="No such incident.")
        return incident

    async def list(self, view: View) -> web.StreamResponse:
        raw = {key: view.request.query.get(key, "").strip() for key in _FILTERS}
        params = dict(raw, since=_as_utc(raw["since"]), until=_as_utc(raw["until"]),
                      limit=view.request.query.get("limit", ""))
        found = await asyncio.to_thread(self._store.search, query_from(params))
        seen = sorted({c["entity"] for i in found for c in i.categories})
        return view.render("incidents.html", incidents=found, filters=raw,
                           statuses=STATUSES, severities=SEVERITIES, kinds=KINDS,
                           categories=seen)

    async def _detail_page(self, view: View, incident: Incident, status: int = 200,
                           error: str | None = None) -> web.Response:
        actions = await asyncio.to_thread(self._store.actions, incident.id)
        done = _DONE.get(view.request.query.get("done", ""))
        return view.render("incident.html", status, incident=incident, actions=actions,
                           can_write=view.has(WRITERS), formats=self.formats,
                           next_statuses=sorted(TRANSITIONS.get(incident.status, ())),
                           error=error, done=None if error else done, now=time.time())

    async def detail(self, view: View) -> web.StreamResponse:
        return await self._detail_page(view, await self._incident(view))

    async def act(self, view: View) -> web.StreamResponse:
        incident = await self._incident(view)
        action = view.form.get("action", "")
        detail = _detail(action, view.form)
        try:
            changed = await asyncio.to_thread(self._store.change, incident.id,
                                              view.principal.user, action, detail)
        except IncidentError as exc:
            if exc.code == "not_found":
                raise web.HTTPNotFound(reason="No such incident.") from None
            return await self._detail_page(view, incident, 409, exc.message)
        await self._audit({"kind": "incident_" + action, "incident": changed.id,
                           "actor": view.principal.user, "status": changed.status,
                           "via": "ui"})
        return view.redirect(f"/incidents/{changed.id}?done={action}")

    async def report(self, view: View) -> web.StreamResponse:
        fmt = view.request.match_info["fmt"]
        lang = view.request.query.get("lang", "en")
        if fmt not in self.formats or lang not in ("en", "zh"):
            raise web.HTTPNotFound(reason=f"The {fmt} report is not available here.")
        incident = await self._incident(view)
        actions = await asyncio.to_thread(self._store.actions, incident.id)
        if fmt == "json" or self._options.render is None:
            body = orjson.dumps({"incident": incident.to_json(), "actions": actions},
                                option=orjson.OPT_INDENT_2)
            content_type = "application/json"
        else:
            body, content_type = await asyncio.to_thread(self._options.render, incident,
                                                         actions, fmt, lang)
        await self._audit({"kind": "incident_report", "incident": incident.id,
                           "actor": view.principal.user, "format": fmt, "via": "ui"})
        return web.Response(body=body, headers={
            "Content-Type": content_type,
            "Content-Disposition": f'attachment; filename="{incident.id}.{fmt}"'})


def add_incident_pages(add: Callable[[str, str, frozenset[str], PageHandler], None],
                       store: IncidentStore, options: UiOptions) -> None:
    pages = IncidentPages(store, options)
    add("GET", "/incidents", READERS, pages.list)
    add("GET", _ITEM, READERS, pages.detail)
    add("POST", _ITEM + "/actions", WRITERS, pages.act)
    add("GET", _ITEM + "/report.{fmt:[a-z]+}", READERS, pages.report)
