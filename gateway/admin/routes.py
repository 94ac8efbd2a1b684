"""Health, readiness and metrics endpoints."""

from __future__ import annotations

import asyncio

from aiohttp import web

from gateway.runtime import GATEWAY

__all__ = ["add_admin_routes"]

_PROM_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    names = sorted(gw.config.upstreams)
    results = await asyncio.gather(*(gw.upstreams.probe(name) for name in names))
    checks: dict[str, str] = {
        f"upstream:{name}": "ok" if ok else "unreachable"
        for name, ok in zip(names, results, strict=True)
    }
    checks["request_log"] = "ok" if gw.request_log.writable() else "failing"
    if "pii_mask" in gw.config.stages:
        failing = gw.selftest_failures
        checks["detectors"] = "ok" if not failing else "self-test failed: " + ", ".join(failing)
    ready = all(value == "ok" for value in checks.values())
    return web.json_response(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status=200 if ready else 503,
    )


async def _metrics(request: web.Request) -> web.Response:
    body = request.app[GATEWAY].metrics.render()
    return web.Response(body=body, headers={"Content-Type": _PROM_TYPE})


async def _not_found(request: web.Request) -> web.Response:
    return web.json_response({"error": "not_found", "reason": "no such admin endpoint"},
                             status=404)


def add_admin_routes(app: web.Application, prefix: str) -> None:
    app.router.add_get(prefix + "healthz", _healthz)
    app.router.add_get(prefix + "readyz", _readyz)
    app.router.add_get(prefix + "metrics", _metrics)
    app.router.add_route("*", prefix + "{tail:.*}", _not_found)
