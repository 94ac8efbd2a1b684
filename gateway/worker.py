"""One worker process of ``serve --workers N``: the gateway on an inherited listening socket.

The supervisor (``gateway.workers``) starts ``python -m gateway.worker CONFIG SOCKET_FD
READY_FD`` with ``PROMETHEUS_MULTIPROC_DIR`` set. The worker builds the app from the
config file (so a reload picks up a changed file), serves the socket it was given,
writes ``ready`` to ``READY_FD`` once it accepts connections, and drains on SIGTERM:
it stops accepting, answers readiness probes with 503 and every request with
``Connection: close`` for half a second (keep-alive clients move to the new workers,
requests already on their way arrive), closes idle connections, lets in-flight requests
finish within ``listen.grace_seconds``, then exits 0. SIGINT is left to the supervisor
(a terminal's Ctrl+C reaches the whole process group). If the supervisor disappears, its
pipe on stdin reaches end-of-file and the worker drains the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import stat
import sys

from aiohttp import web

from gateway.admin.routes import DRAINING
from gateway.app import create_app
from gateway.config import load_config
from gateway.logs import configure_logging

__all__ = ["main", "serve_socket"]

_SETTLE_SECONDS = 0.5


async def serve_socket(app: web.Application, sock: socket.socket, grace: float,
                       ready_fd: int | None = None) -> None:
    """Serve ``app`` on ``sock`` until SIGTERM or end-of-file on stdin, then drain."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=grace)
    await runner.setup()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    watching = _watch_parent(loop, stop)
    try:
        await web.SockSite(runner, sock).start()
        if ready_fd is not None:
            os.write(ready_fd, b"ready\n")
            os.close(ready_fd)
        await stop.wait()
        await _stop_accepting(runner)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        if watching:
            loop.remove_reader(0)
        await runner.cleanup()


async def _stop_accepting(runner: web.AppRunner) -> None:
    """Close the listening socket, then let requests already sent on accepted or kept-alive
    connections arrive before idle connections are closed: a client whose request meets
    that close retries on a new connection, which only the new workers can accept now."""
    runner.app[DRAINING].set()
    for site in list(runner.sites):
        await site.stop()
    await asyncio.sleep(_SETTLE_SECONDS)


def _watch_parent(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> bool:
    """Stop when the supervisor's pipe on stdin closes (the supervisor is gone)."""
    try:
        if not stat.S_ISFIFO(os.fstat(0).st_mode):
            return False
    except OSError:
        return False

    def readable() -> None:
        try:
            data = os.read(0, 4096)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(0)
            stop.set()

    loop.add_reader(0, readable)
    return True


def main(argv: list[str]) -> int:
    """``python -m gateway.worker CONFIG SOCKET_FD READY_FD``."""
    if len(argv) != 3:
        print("usage: python -m gateway.worker CONFIG SOCKET_FD READY_FD", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    config = load_config(argv[0])
    configure_logging(config.log_level)
    sock = socket.socket(fileno=int(argv[1]))
    sock.setblocking(False)
    app = create_app(config)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_socket(app, sock, config.listen.grace_seconds, int(argv[2])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
