"""``dlp-gateway serve``: run the gateway from a config file, on one or several processes."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import sys
from pathlib import Path

import click
from aiohttp import web

from gateway.app import create_app
from gateway.config import Config, ConfigError, load_config
from gateway.logs import configure_logging
from gateway.workers import Supervisor, SupervisorOptions

__all__ = ["cpu_quota", "default_workers", "serve"]


def cpu_quota(cgroup: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The container's CPU limit in cores (cgroup v2 ``cpu.max`` or v1 CFS quota), if any."""
    try:
        quota, _, period = (cgroup / "cpu.max").read_text().partition(" ")
    except OSError:
        try:
            quota = (cgroup / "cpu" / "cpu.cfs_quota_us").read_text()
            period = (cgroup / "cpu" / "cpu.cfs_period_us").read_text()
        except OSError:
            return None
    quota, period = quota.strip(), period.strip()
    if quota in ("max", "-1") or not quota.isdigit() or not period.isdigit():
        return None
    return int(quota) / int(period) if int(period) else None


def default_workers(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The cores this process may use: its CPU affinity, capped by a container CPU limit
    (a pod limited to 2 CPUs on a 64-core node gets 2 workers, not 64)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    quota = cpu_quota(cgroup)
    return max(1, min(cores, math.ceil(quota))) if quota else cores


@click.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="Gateway YAML config file.")
@click.option("--host", default=None, help="Override listen.host.")
@click.option("--port", default=None, type=int, help="Override listen.port.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes on the port (default: the number of cores). "
                   "1 serves from this process; more start a supervisor: SIGHUP reloads "
                   "the workers gracefully, SIGTERM drains them.")
def serve(config_path: str, host: str | None, port: int | None, workers: int | None) -> None:
    """Run the gateway."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(config.log_level)
    host = host or config.listen.host
    port = port if port is not None else config.listen.port
    count = workers or default_workers()
    if count > 1:
        _supervise(config, config_path, (host, port), count)
        return
    try:
        app = create_app(config)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    web.run_app(
        app,
        host=host,
        port=port,
        access_log=None,
        shutdown_timeout=config.listen.grace_seconds,
        print=lambda msg: click.echo(msg, err=True),
    )


def _supervise(config: Config, config_path: str, address: tuple[str, int], count: int) -> None:
    logging.getLogger("dlpgw.workers").setLevel(logging.INFO)
    if config.store.counters == "memory" and "rate_guard" in config.stages:
        logging.getLogger("dlpgw.workers").warning(
            "store.counters is memory: each of the %d workers counts login failures on its "
            "own; use store.counters: redis to count them once", count)
    options = SupervisorOptions(
        config_path=os.path.abspath(config_path), host=address[0], port=address[1],
        workers=count, grace_seconds=config.listen.grace_seconds,
        metrics_dir=config.state_path("metrics").resolve(),
    )
    try:
        code = asyncio.run(Supervisor(options).run())
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {address[0]}:{address[1]}: "
                                   f"{exc.strerror}") from None
    sys.exit(code)
