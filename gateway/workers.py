"""``serve --workers N``: a supervisor keeping N gateway processes on one port.

Sockets: the supervisor binds one listening socket per worker slot to the same port
with ``SO_REUSEPORT`` (the kernel spreads connections evenly over them) and keeps all of
them open for its whole life; worker *i* serves socket *i* (``gateway.worker``). Since no
socket closes while the supervisor lives, nothing queued on one is lost when its worker
changes.

Signals: SIGHUP reloads gracefully: a new worker is started on every socket, and only
once all of them accept connections are the old ones told to drain (SIGTERM), so for a
moment old and new share each queue and no connection is dropped. If a new worker fails
to start, the running ones are kept. SIGTERM or SIGINT: the supervisor closes its copies
of the sockets, the workers stop accepting, drain within ``listen.grace_seconds`` and
exit; the supervisor exits 0. A worker that dies unexpectedly is replaced, with backoff.

Metrics: ``PROMETHEUS_MULTIPROC_DIR`` points every worker at ``<state_dir>/metrics``,
emptied at start; ``mark_process_dead`` runs for each worker that exits, so live-mode
gauges (in-flight requests, build info) forget it while its counters stay summed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import sys
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.multiprocess import mark_process_dead

from gateway.metrics import MULTIPROC_ENV

__all__ = ["Supervisor", "SupervisorOptions", "bind_sockets", "reset_metrics_dir"]

log = logging.getLogger("dlpgw.workers")

_KILL_MARGIN = 10.0


@dataclass(frozen=True, slots=True)
class SupervisorOptions:
    config_path: str
    host: str
    port: int
    workers: int
    grace_seconds: float
    metrics_dir: Path
    start_timeout: float = 180.0


@dataclass(slots=True)
class _Worker:
    slot: int
    generation: int
    proc: asyncio.subprocess.Process
    retiring: bool = False
    crashes: int = 0


def bind_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` listening sockets on one port. A port already in use is an error, even
    when its holder also set ``SO_REUSEPORT`` (it would silently share the traffic)."""
    family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(addr)
        addr = (addr[0], probe.getsockname()[1], *addr[2:])
    sockets = []
    for _ in range(count):
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(addr)
        sock.listen(1024)
        sockets.append(sock)
    return sockets


def reset_metrics_dir(path: Path) -> Path:
    """An empty directory for this run's metric files (stale files would be summed)."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


class Supervisor:
    def __init__(self, options: SupervisorOptions) -> None:
        self._opts = options
        self._sockets: list[socket.socket] = []
        self._env = {**os.environ, MULTIPROC_ENV: str(options.metrics_dir)}
        self._live: dict[int, _Worker] = {}
        self._current: list[_Worker] = []
        self._generation = 0
        self._stop = asyncio.Event()
        self._reloading: asyncio.Task[None] | None = None
        self._reload_again = False
        self._started = False
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def pids(self) -> list[int]:
        return [w.proc.pid for w in self._current]

    async def run(self) -> int:
        """Serve until SIGTERM/SIGINT; 0 after a graceful stop, 1 if the start failed."""
        opts = self._opts
        self._sockets = bind_sockets(opts.host, opts.port, opts.workers)
        reset_metrics_dir(opts.metrics_dir)
        port = self._sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, self._request_reload)
        try:
            started = await self._start_generation(0, first_alone=True)
            if started is None:
                log.error("workers failed to start; see their errors above")
                return 1
            self._adopt(started)
            self._started = True
            log.info("serving on %s:%d with %d workers (pids %s)", opts.host, port,
                     opts.workers, self.pids)
            if self._reload_again:
                self._request_reload()
            await self._stop.wait()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            await self._shutdown()
        return 0

    def _request_reload(self) -> None:
        if not self._started or (self._reloading is not None and not self._reloading.done()):
            self._reload_again = True
            return
        self._reloading = asyncio.create_task(self._reload())

    async def _reload(self) -> None:
        while True:
            self._reload_again = False
            generation = self._generation + 1
            log.info("reload: starting %d new workers", self._opts.workers)
            fresh = await self._start_generation(generation)
            if fresh is None:
                log.error("reload failed: the new workers did not start; keeping the old ones")
            else:
                old = self._current
                self._generation = generation
                self._adopt(fresh)
                await asyncio.gather(*(self._retire(w) for w in old))
                log.info("reload done: workers %s", self.pids)
            if not self._reload_again:
                return

    async def _start_generation(self, generation: int,
                                first_alone: bool = False) -> list[_Worker] | None:
        """Start a worker per slot. ``first_alone``: on a fresh state directory, one
        worker creates the shared state (schema migrations, keys) before the others open it."""
        slots = range(self._opts.workers)
        results: list[_Worker | None] = []
        if first_alone:
            results.append(await self._spawn(0, generation))
            slots = range(1, self._opts.workers) if results[0] is not None else range(0)
        results += await asyncio.gather(*(self._spawn(slot, generation) for slot in slots))
        fresh = [w for w in results if w is not None]
        if len(fresh) == len(results):
            return fresh
        await asyncio.gather(*(self._retire(w) for w in fresh))
        return None

    def _adopt(self, workers: list[_Worker]) -> None:
        self._current = workers
        for worker in workers:
            self._spawn_task(self._watch(worker))

    def _spawn_task(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _spawn(self, slot: int, generation: int) -> _Worker | None:
        sock = self._sockets[slot]
        read_fd, write_fd = os.pipe()
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gateway.worker", self._opts.config_path,
                str(sock.fileno()), str(write_fd),
                stdin=asyncio.subprocess.PIPE, pass_fds=(sock.fileno(), write_fd),
                env=self._env,
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        worker = self._live[proc.pid] = _Worker(slot, generation, proc)
        if await _wait_ready(read_fd, self._opts.start_timeout):
            return worker
        log.error("worker for slot %d (pid %d) did not become ready", slot, proc.pid)
        await self._retire(worker)
        return None

    async def _watch(self, worker: _Worker) -> None:
        """Replace a worker that exits without being asked to."""
        code = await worker.proc.wait()
        if worker.retiring or self._stop.is_set():
            return
        log.error("worker %d (slot %d) exited with status %s; replacing it",
                  worker.proc.pid, worker.slot, code)
        self._forget(worker)
        delay = min(30.0, 0.5 * 2 ** worker.crashes)
        while not self._stop.is_set() and worker.generation == self._generation:
            await asyncio.sleep(delay)
            fresh = await self._spawn(worker.slot, worker.generation)
            if fresh is None:
                delay = min(30.0, delay * 2)
                continue
            if worker.generation != self._generation or self._stop.is_set():
                await self._retire(fresh)
                return
            fresh.crashes = worker.crashes + 1
            self._current = [fresh if w is worker else w for w in self._current]
            self._spawn_task(self._watch(fresh))
            return

    async def _retire(self, worker: _Worker) -> None:
        """SIGTERM, wait for the drain (bounded), then SIGKILL; clean its metric files."""
        worker.retiring = True
        proc = worker.proc
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), self._opts.grace_seconds + _KILL_MARGIN)
        except TimeoutError:
            log.error("worker %d did not drain in time: killing it", proc.pid)
            proc.kill()
            await proc.wait()
        self._forget(worker)

    def _forget(self, worker: _Worker) -> None:
        if self._live.pop(worker.proc.pid, None) is not None:
            mark_process_dead(worker.proc.pid, str(self._opts.metrics_dir))  # type: ignore[no-untyped-call]

    async def _shutdown(self) -> None:
        if self._live:
            log.info("stopping: draining workers %s", sorted(self._live))
        for sock in self._sockets:
            sock.close()
        pending = [*self._tasks, *([self._reloading] if self._reloading else [])]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.gather(*(self._retire(w) for w in list(self._live.values())))
        log.info("stopped")


async def _wait_ready(read_fd: int, seconds: float) -> bool:
    """True once the worker writes ``ready``; False if it exits or times out first."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[bool] = loop.create_future()

    def readable() -> None:
        try:
            data = os.read(read_fd, 64)
        except OSError:
            data = b""
        if not ready.done():
            ready.set_result(data.startswith(b"ready"))

    loop.add_reader(read_fd, readable)
    try:
        return await asyncio.wait_for(ready, seconds)
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(read_fd)
        os.close(read_fd)
