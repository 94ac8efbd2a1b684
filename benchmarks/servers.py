"""Processes the benchmark starts: a static upstream and a minimal aiohttp pass-through."""

from __future__ import annotations

import argparse

import aiohttp
from aiohttp import web

BODY_KEY = web.AppKey("body", bytes)
SESSION_KEY = web.AppKey("session", aiohttp.ClientSession)


async def _static(request: web.Request) -> web.Response:
    return web.Response(body=request.app[BODY_KEY], content_type="application/json")


def upstream_app(body: bytes) -> web.Application:
    app = web.Application()
    app[BODY_KEY] = body
    app.router.add_get("/{tail:.*}", _static)
    return app


def passthrough_app(upstream: str) -> web.Application:
    """The smallest honest aiohttp reverse proxy: pooled session, body relayed."""
    app = web.Application()

    async def session_ctx(app: web.Application):  # type: ignore[no-untyped-def]
        app[SESSION_KEY] = aiohttp.ClientSession(auto_decompress=False)
        yield
        await app[SESSION_KEY].close()

    async def relay(request: web.Request) -> web.Response:
        async with app[SESSION_KEY].request(
            request.method, upstream + request.raw_path, data=await request.read()
        ) as resp:
            body = await resp.read()
            return web.Response(
                body=body, status=resp.status,
                headers={"Content-Type": resp.headers.get("Content-Type", "")},
            )

    app.cleanup_ctx.append(session_ctx)
    app.router.add_route("*", "/{tail:.*}", relay)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["upstream", "passthrough"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body-file")
    parser.add_argument("--upstream")
    args = parser.parse_args()
    if args.kind == "upstream":
        with open(args.body_file, "rb") as fh:
            app = upstream_app(fh.read())
    else:
        app = passthrough_app(args.upstream)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
