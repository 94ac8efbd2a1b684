"""What a UI page handler gets (``View``), the templates, and the headers every page carries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from gateway.exchange import Principal
from gateway.ui.session import Session

__all__ = [
    "DECIDERS",
    "READERS",
    "SECURITY_HEADERS",
    "UI_ROLES",
    "WRITERS",
    "PageHandler",
    "View",
    "build_templates",
    "harden",
    "utc",
]

WRITERS = frozenset({"admin", "compliance"})
READERS = WRITERS | {"auditor"}
DECIDERS = frozenset({"admin", "approver"})
UI_ROLES = READERS | DECIDERS
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'self'; img-src 'self'; "
                                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}
_TEMPLATES = Path(__file__).parent / "templates"


def utc(value: float | None) -> str:
    if value is None:
        return "—"
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def build_templates() -> Environment:
    env = Environment(loader=FileSystemLoader(_TEMPLATES), undefined=StrictUndefined,
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["utc"] = utc
    return env


def harden(response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)


@dataclass(slots=True)
class View:
    """One request to a page: the session's principal, the POST form and the CSRF token."""

    request: web.Request
    session: Session
    principal: Principal
    csrf: str
    templates: Environment
    base: str
    form: Mapping[str, str] = field(default_factory=dict)
    end_session: bool = False

    def has(self, roles: frozenset[str]) -> bool:
        return bool(roles & set(self.principal.roles))

    def render(self, template: str, status: int = 200, **context: Any) -> web.Response:
        page = self.templates.get_template(template).render(
            base=self.base, csrf=self.csrf, principal=self.principal,
            nav={"incidents": self.has(READERS), "approvals": self.has(DECIDERS),
                 "audit": self.has(READERS)},
            **context)
        return web.Response(text=page, status=status, content_type="text/html",
                            charset="utf-8")

    def error(self, status: int, message: str) -> web.Response:
        return self.render("error.html", status, code=status, message=message)

    def redirect(self, path: str) -> web.Response:
        return web.Response(status=303, headers={"Location": self.base + path})


PageHandler = Callable[[View], Awaitable[web.StreamResponse]]
