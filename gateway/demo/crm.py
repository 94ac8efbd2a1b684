"""The demo "legacy CRM": the upstream that the gateway protects in the demo and in tests.

It serves synthetic customers (see ``gateway.demo.data``) as JSON, CSV, XLSX, HTML and
plain text, plus a form login. Data is generated once, when the app is created, and is
deterministic for the factory's arguments. It has no authorisation of its own on
purpose: every customer record is readable by anyone who can reach it.
"""

from __future__ import annotations

import asyncio
import gzip
import hmac
import html
from collections.abc import Mapping, Sequence

import orjson
from aiohttp import web

from gateway.demo.data import Customer, demo_users, generate_customers
from gateway.demo.exports import csv_text, xlsx_bytes

__all__ = [
    "CRM_CUSTOMERS",
    "CRM_USERS",
    "DEFAULT_LIMIT",
    "HTML_ROWS",
    "MAX_LIMIT",
    "XLSX_CONTENT_TYPE",
    "create_crm_app",
]

CRM_CUSTOMERS = web.AppKey("crm_customers", dict[str, tuple[Customer, ...]])
CRM_USERS = web.AppKey("crm_users", dict[str, str])
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
HTML_ROWS = 50
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
_GB18030 = ("gb18030", "gb18030")
_CSV_CHARSETS = {"utf-8": ("utf-8-sig", "utf-8"), "gbk": _GB18030, "gb18030": _GB18030}
_PAGE_SCRIPT = (
    "document.getElementById('row-count').textContent = "
    "String(document.querySelectorAll('tr[data-phone]').length);"
)


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", charset="utf-8"
    )


def _json_error(exc_type: type[web.HTTPError], message: str) -> web.HTTPError:
    text = orjson.dumps({"error": message}).decode()
    return exc_type(text=text, content_type="application/json")


def _attachment(filename: str) -> str:
    return f'attachment; filename="{filename}"'


def _project_rows(request: web.Request, project: str) -> tuple[Customer, ...]:
    rows = request.app[CRM_CUSTOMERS].get(project)
    if rows is None:
        raise _json_error(web.HTTPNotFound, f"unknown project {project!r}")
    return rows


def _int_param(query: Mapping[str, str], name: str, default: int, upper: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _json_error(web.HTTPBadRequest, f"{name} must be an integer") from None
    if not 0 <= value <= upper:
        raise _json_error(web.HTTPBadRequest, f"{name} must be between 0 and {upper}")
    return value


def _quality(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def _accepts_gzip(accept_encoding: str) -> bool:
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        if coding.strip().lower() == "gzip":
            return _quality(params) > 0
    return False


async def _list_customers(request: web.Request) -> web.Response:
    rows = _project_rows(request, request.match_info["project"])
    limit = _int_param(request.query, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    offset = _int_param(request.query, "offset", 0, 2**31)
    needle = request.query.get("q", "").casefold()
    if needle:
        rows = tuple(
            c for c in rows if needle in c.name.casefold() or needle in c.customer_no.casefold()
        )
    payload = orjson.dumps([c.to_dict() for c in rows[offset : offset + limit]])
    headers = {"Vary": "Accept-Encoding"}
    if _accepts_gzip(request.headers.get("Accept-Encoding", "")):
        payload = gzip.compress(payload, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return web.Response(
        body=payload, headers=headers, content_type="application/json", charset="utf-8"
    )


async def _get_customer(request: web.Request) -> web.Response:
    rows = _project_rows(request, request.match_info["project"])
    raw_id = request.match_info["customer_id"]
    customer_id = int(raw_id) if raw_id.isascii() and raw_id.isdigit() else -1
    for customer in rows:
        if customer.id == customer_id:
            return _json(customer.to_dict())
    raise _json_error(web.HTTPNotFound, f"no customer {raw_id!r}")


async def _export_csv(request: web.Request) -> web.Response:
    project = request.match_info["project"]
    rows = _project_rows(request, project)
    choice = _CSV_CHARSETS.get(request.query.get("charset", "utf-8").lower())
    if choice is None:
        raise _json_error(web.HTTPBadRequest, "charset must be utf-8, gbk or gb18030")
    codec, label = choice
    return web.Response(
        body=csv_text(rows).encode(codec),
        headers={
            "Content-Type": f"text/csv; charset={label}",
            "Content-Disposition": _attachment(f"{project}-customers.csv"),
        },
    )


async def _export_xlsx(request: web.Request) -> web.Response:
    project = request.match_info["project"]
    rows = _project_rows(request, project)
    body = await asyncio.to_thread(xlsx_bytes, rows)
    return web.Response(
        body=body,
        content_type=XLSX_CONTENT_TYPE,
        headers={"Content-Disposition": _attachment(f"{project}-customers.xlsx")},
    )


def _html_row(customer: Customer) -> str:
    cells = (customer.customer_no, customer.name, customer.phone, customer.email, customer.grade)
    tds = "".join(f"<td>{html.escape(value)}</td>" for value in cells)
    return f'<tr data-phone="{html.escape(customer.phone)}">{tds}</tr>'


def _render_page(project: str, rows: Sequence[Customer]) -> str:
    title = f"Customers of {html.escape(project)}"
    body = "\n".join(_html_row(c) for c in rows[:HTML_ROWS])
    return (
        f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{title}</title></head>\n<body><h1>{title}</h1>\n"
        f'<p>Rows: <span id="row-count"></span></p>\n<table id="customers">\n'
        "<thead><tr><th>customer_no</th><th>name</th><th>phone</th><th>email</th>"
        f"<th>grade</th></tr></thead>\n<tbody>\n{body}\n</tbody></table>\n"
        f"<script>{_PAGE_SCRIPT}</script>\n</body></html>\n"
    )


async def _customers_page(request: web.Request) -> web.Response:
    customers = request.app[CRM_CUSTOMERS]
    project = request.query.get("project") or next(iter(customers), "")
    if project not in customers:
        raise web.HTTPNotFound(text=f"unknown project {project!r}")
    return web.Response(text=_render_page(project, customers[project]), content_type="text/html")


async def _login(request: web.Request) -> web.Response:
    if request.content_type not in _FORM_TYPES:
        return _json({"ok": False, "error": "expected a form body"}, status=400)
    form = await request.post()
    username, password = form.get("username"), form.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        return _json({"ok": False, "error": "username and password are required"}, status=400)
    expected = request.app[CRM_USERS].get(username, "")
    if not expected or not hmac.compare_digest(expected.encode(), password.encode()):
        return _json({"ok": False}, status=401)
    return _json({"ok": True, "user": username})


async def _health(_request: web.Request) -> web.Response:
    return _json({"status": "ok"})


async def _notes(request: web.Request) -> web.Response:
    rows = _project_rows(request, request.match_info["project"])
    return web.Response(text="".join(f"{c.notes}\n" for c in rows), content_type="text/plain")


def create_crm_app(
    seed: int = 7, per_project: int = 300, projects: tuple[str, ...] = ("proj1", "proj2")
) -> web.Application:
    """Build the demo CRM with ``per_project`` customers in each of ``projects``."""
    app = web.Application()
    app[CRM_CUSTOMERS] = {p: tuple(generate_customers(p, per_project, seed)) for p in projects}
    app[CRM_USERS] = demo_users()
    app.router.add_get("/api/health", _health)
    # Dynamic routes are tried in order: the exports must precede ``{customer_id}``.
    app.router.add_get("/api/projects/{project}/customers/export.csv", _export_csv)
    app.router.add_get("/api/projects/{project}/customers/export.xlsx", _export_xlsx)
    app.router.add_get("/api/projects/{project}/customers", _list_customers)
    app.router.add_get("/api/projects/{project}/customers/{customer_id}", _get_customer)
    app.router.add_get("/api/notes/{project}", _notes)
    app.router.add_get("/customers", _customers_page)
    app.router.add_post("/login", _login)
    return app
