"""The review UI under ``{admin prefix}ui/``: login, logout, the guard around every page.

Reads: the signed session cookie, form posts, and at login the API key or bearer token
typed into the form (checked by the gateway's own ``identify``, exactly like gateway
traffic; the credential is never stored). Writes: the session cookie (``HttpOnly``,
``Secure``, ``SameSite=Strict``, ``Path`` the UI) and ``ui_login``/``ui_logout`` audit
entries. Refuses: a POST without a session or with a missing or wrong CSRF token (403);
a principal without a UI role (403); pages above the caller's roles (403). Every response
carries the CSP and the other ``SECURITY_HEADERS``; a GET without a session is sent to
the login page.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from jinja2 import Environment
from multidict import CIMultiDict

from gateway.exchange import RequestData
from gateway.ui.approval_pages import add_approval_pages
from gateway.ui.incident_pages import add_incident_pages
from gateway.ui.options import UiDeps, UiOptions
from gateway.ui.session import COOKIE, Session, SessionCodec
from gateway.ui.view import READERS, UI_ROLES, PageHandler, View, build_templates, harden

__all__ = ["add_ui_routes", "read_form"]

log = logging.getLogger("dlpgw.ui")
_MAX_FIELD = 8192
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_CSRF_REFUSED = ("The form has expired or its security token is missing. Reload the page "
                 "and try again.")


async def read_form(request: web.Request) -> dict[str, str]:
    """The posted text fields (first value of each); files and over-long values dropped."""
    posted = await request.post()
    form: dict[str, str] = {}
    for key, value in posted.items():
        if isinstance(value, str) and key not in form and len(value) <= _MAX_FIELD:
            form[key] = value
    return form


def _reason(exc: web.HTTPException) -> str:
    try:
        return str(orjson.loads(exc.text or "")["reason"])
    except (ValueError, KeyError, TypeError):
        return exc.reason


class _Guard:
    def __init__(self, codec: SessionCodec, templates: Environment, base: str) -> None:
        self.codec = codec
        self.templates = templates
        self.base = base

    def plain(self, template: str, status: int, **context: Any) -> web.Response:
        """A page for someone without a session (login, refusals)."""
        context.setdefault("csrf", "")
        page = self.templates.get_template(template).render(
            base=self.base, principal=None, nav={}, **context)
        response = web.Response(text=page, status=status, content_type="text/html",
                                charset="utf-8")
        harden(response)
        return response

    def refuse_post(self) -> web.Response:
        return self.plain("error.html", 403, code=403, message=_CSRF_REFUSED)

    def to_login(self) -> web.Response:
        response = web.Response(status=303, headers={"Location": self.base + "/login"})
        harden(response)
        return response

    def page(self, roles: frozenset[str], handler: PageHandler) -> Handler:
        async def run(request: web.Request) -> web.StreamResponse:
            session = self.codec.decode(request.cookies.get(COOKIE))
            if session is None or session.principal is None:
                return self.refuse_post() if request.method == "POST" else self.to_login()
            view = View(request, session, session.principal, self.codec.csrf_token(session),
                        self.templates, self.base)
            if request.method == "POST":
                view.form = await read_form(request)
                if not self.codec.csrf_ok(session, view.form.get("csrf")):
                    return self.refuse_post()
            if not view.has(roles):
                response: web.StreamResponse = view.error(
                    403, "Your roles do not allow this page or action.")
            else:
                response = await self._call(handler, view)
            return self.finish(view, response)

        return run

    async def _call(self, handler: PageHandler, view: View) -> web.StreamResponse:
        try:
            return await handler(view)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return view.error(exc.status, _reason(exc))
        except Exception as exc:
            log.error("review UI page failed: %s (%s)", type(exc).__name__,
                      view.request.path)
            return view.error(503, f"A store failed ({type(exc).__name__}). Try again "
                                   "later; the action log shows what was done.")

    def finish(self, view: View, response: web.StreamResponse) -> web.StreamResponse:
        harden(response)
        if view.end_session:
            self.codec.clear_cookie(response)
        else:
            self.codec.set_cookie(response, self.codec.touch(view.session))
        return response


class _Login:
    def __init__(self, guard: _Guard, deps: UiDeps, options: UiOptions) -> None:
        self._guard = guard
        self._codec = guard.codec
        self._deps = deps
        self._options = options

    async def _audit(self, entry: dict[str, Any]) -> None:
        if self._options.audit is not None:
            await self._options.audit(entry)

    def _form_page(self, request: web.Request, session: Session, status: int,
                   error: str | None) -> web.Response:
        response = self._guard.plain("login.html", status, error=error,
                                     csrf=self._codec.csrf_token(session),
                                     plain_http=self._cookie_dropped(request))
        self._codec.set_cookie(response, self._codec.touch(session))
        return response

    def _cookie_dropped(self, request: web.Request) -> bool:
        """Browsers drop ``Secure`` cookies on plain HTTP except on the loopback host."""
        if not self._codec.policy.secure or request.secure:
            return False
        if request.headers.get("X-Forwarded-Proto", "").lower() == "https":
            return False
        host = (request.host or "").rsplit(":", 1)[0].strip("[]").lower()
        return host not in _LOOPBACK

    async def show(self, request: web.Request) -> web.StreamResponse:
        session = self._codec.decode(request.cookies.get(COOKIE))
        if session is not None and session.principal is not None:
            response = web.Response(status=303, headers={"Location": self._guard.base + "/"})
            harden(response)
            return response
        return self._form_page(request, session or self._codec.new(None), 200, None)

    def _credentials(self, request: web.Request, form: dict[str, str]) -> RequestData | None:
        """The login request as gateway traffic would carry the typed credential."""
        key, token = form.get("api_key", "").strip(), form.get("token", "").strip()
        if _CONTROL.search(key) or _CONTROL.search(token):
            return None
        header = self._options.api_key_header
        dropped = {"authorization", header.lower(), "cookie", "content-type", "content-length"}
        headers = CIMultiDict((k, v) for k, v in request.headers.items()
                              if k.lower() not in dropped)
        if key:
            headers[header] = key
        if token:
            headers["Authorization"] = "Bearer " + token.removeprefix("Bearer ").strip()
        return RequestData(method=request.method, path=request.path, query_string="",
                           headers=headers, client_ip=request.remote or "")

    async def submit(self, request: web.Request) -> web.StreamResponse:
        session = self._codec.decode(request.cookies.get(COOKIE))
        form = await read_form(request)
        if session is None or not self._codec.csrf_ok(session, form.get("csrf")):
            return self._guard.refuse_post()
        attempt = self._credentials(request, form)
        principal = await self._deps.identify(attempt) if attempt is not None else None
        if principal is None:
            log.info("review UI login refused: invalid or missing credentials")
            return self._form_page(request, session, 401, "Invalid or missing credentials.")
        if not UI_ROLES & set(principal.roles):
            log.info("review UI login refused: no UI role")
            return self._form_page(request, session, 403,
                                   "Your roles give no access to the review UI.")
        await self._audit({"kind": "ui_login", "actor": principal.user,
                           "method": principal.auth_method})
        fresh = self._codec.new(principal)
        response = web.Response(status=303, headers={"Location": self._guard.base + "/"})
        harden(response)
        self._codec.set_cookie(response, fresh)
        return response

    async def logout(self, view: View) -> web.StreamResponse:
        self._codec.revoke(view.session)
        view.end_session = True
        await self._audit({"kind": "ui_logout", "actor": view.principal.user})
        return view.redirect("/login")


async def _home(view: View) -> web.StreamResponse:
    return view.redirect("/incidents" if view.has(READERS) else "/approvals")


def add_ui_routes(app: web.Application, prefix: str, deps: UiDeps,
                  options: UiOptions) -> None:
    """Register the UI under ``{prefix}ui``; call before the proxy's catch-all route."""
    base = prefix.rstrip("/") + "/ui"
    codec = SessionCodec(deps.master_key, replace(options.session, path=base))
    guard = _Guard(codec, build_templates(), base)
    login = _Login(guard, deps, options)
    css = (Path(__file__).parent / "static" / "ui.css").read_bytes()

    async def stylesheet(request: web.Request) -> web.StreamResponse:
        response = web.Response(body=css, content_type="text/css", charset="utf-8")
        harden(response)
        return response

    async def slash(request: web.Request) -> web.StreamResponse:
        return web.Response(status=303, headers={"Location": base + "/"})

    async def not_found(view: View) -> web.StreamResponse:
        return view.error(404, "No such page.")

    def add(method: str, path: str, roles: frozenset[str], handler: PageHandler) -> None:
        app.router.add_route(method, base + path, guard.page(roles, handler))

    app.router.add_get(base, slash)
    app.router.add_get(base + "/static/ui.css", stylesheet)
    app.router.add_get(base + "/login", login.show)
    app.router.add_post(base + "/login", login.submit)
    add("POST", "/logout", UI_ROLES, login.logout)
    add("GET", "/", UI_ROLES, _home)
    add_incident_pages(add, deps.incidents, options)
    add_approval_pages(add, deps.approvals, options)
    add("*", "/{tail:.*}", UI_ROLES, not_found)
