"""JSON request and error helpers shared by the admin APIs."""

from __future__ import annotations

from typing import Any, NoReturn

import orjson
from aiohttp import web

__all__ = ["fail", "int_field", "json_body", "json_response", "text_field"]

_MAX_TEXT = 2000
_ERRORS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest, 401: web.HTTPUnauthorized, 403: web.HTTPForbidden,
    404: web.HTTPNotFound, 409: web.HTTPConflict, 503: web.HTTPServiceUnavailable}


def fail(status: int, code: str, reason: str) -> NoReturn:
    body = orjson.dumps({"error": code, "reason": reason}).decode()
    raise _ERRORS[status](text=body, content_type="application/json")


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status,
                        content_type="application/json")


def text_field(body: dict[str, Any], name: str, required: bool) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        fail(400, "invalid_field", f"{name} must be a non-empty string")
    if len(value) > _MAX_TEXT:
        fail(400, "invalid_field", f"{name} is longer than {_MAX_TEXT} characters")
    return value


def int_field(body: dict[str, Any], name: str, bounds: tuple[int, int],
              default: int | None) -> int:
    value = body.get(name, default)
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        fail(400, "invalid_field", f"{name} must be an integer in {low}..{high}")
    return value


async def json_body(request: web.Request, required: bool) -> dict[str, Any]:
    raw = await request.read()
    if not raw and not required:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        fail(400, "invalid_json", "body must be a JSON object")
    if not isinstance(body, dict):
        fail(400, "invalid_json", "body must be a JSON object")
    return body
