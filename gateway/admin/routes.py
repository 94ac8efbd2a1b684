"""Health, readiness and metrics endpoints.

``healthz`` (liveness) answers while the event loop runs. ``readyz`` (readiness) checks the
upstreams, the shared database, the shared counters (Redis), the audit log and the
detectors, and turns 503 ``draining`` once a graceful shutdown has begun. ``metrics`` is
the Prometheus exposition, merged over all workers when several serve the port.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from aiohttp import web

from gateway.runtime import GATEWAY
from reports.database import Database

__all__ = ["DRAINING", "add_admin_routes"]

_PROM_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DRAINING = web.AppKey("draining", asyncio.Event)


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    if request.app[DRAINING].is_set():
        return web.json_response({"status": "draining", "checks": {}}, status=503)
    gw = request.app[GATEWAY]
    names = sorted(gw.config.upstreams)
    results = await asyncio.gather(*(gw.upstreams.probe(name) for name in names))
    checks: dict[str, str] = {
        f"upstream:{name}": "ok" if ok else "unreachable"
        for name, ok in zip(names, results, strict=True)
    }
    checks["database"] = await _probe(asyncio.to_thread(_select_one, gw.database))
    ping = getattr(gw.counters, "ping", None)
    if ping is not None:
        checks["counters"] = await _probe(ping())
    checks["audit_log"] = "ok" if gw.audit_log.healthy() else "failing"
    if "pii_mask" in gw.config.stages:
        failing = gw.selftest_failures
        checks["detectors"] = "ok" if not failing else "self-test failed: " + ", ".join(failing)
    ready = all(value == "ok" for value in checks.values())
    return web.json_response(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status=200 if ready else 503,
    )


def _select_one(database: Database) -> bool:
    with database.read() as conn:
        return bool(conn.exec_driver_sql("SELECT 1").scalar() == 1)


_PROBE_SECONDS = 2.0


async def _probe(check: Awaitable[bool]) -> str:
    """``ok``, or why not; a store that cannot answer in time is not ready."""
    try:
        async with asyncio.timeout(_PROBE_SECONDS):
            return "ok" if await check else "failing"
    except TimeoutError:
        return "timeout"
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"


async def _metrics(request: web.Request) -> web.Response:
    body = await asyncio.to_thread(request.app[GATEWAY].metrics.render)
    return web.Response(body=body, headers={"Content-Type": _PROM_TYPE})


async def _not_found(request: web.Request) -> web.Response:
    return web.json_response({"error": "not_found", "reason": "no such admin endpoint"},
                             status=404)


async def _draining(app: web.Application) -> None:
    app[DRAINING].set()


async def _close_when_draining(request: web.Request, response: web.StreamResponse) -> None:
    """While draining, every response says ``Connection: close``: a keep-alive client learns
    it must reconnect instead of racing the connection's close with its next request."""
    if request.app[DRAINING].is_set():
        response.force_close()
        response.headers["Connection"] = "close"


def add_admin_routes(app: web.Application, prefix: str) -> None:
    app[DRAINING] = asyncio.Event()
    app.on_shutdown.append(_draining)
    app.on_response_prepare.append(_close_when_draining)
    app.router.add_get(prefix + "healthz", _healthz)
    app.router.add_get(prefix + "readyz", _readyz)
    app.router.add_get(prefix + "metrics", _metrics)
    app.router.add_route("*", prefix + "{tail:.*}", _not_found)
