"""``dlp-gateway serve``: run the gateway from a config file."""

from __future__ import annotations

import click
from aiohttp import web

from gateway.app import create_app
from gateway.config import ConfigError, load_config
from gateway.logs import configure_logging

__all__ = ["serve"]


@click.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="Gateway YAML config file.")
@click.option("--host", default=None, help="Override listen.host.")
@click.option("--port", default=None, type=int, help="Override listen.port.")
def serve(config_path: str, host: str | None, port: int | None) -> None:
    """Run the gateway."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(config.log_level)
    try:
        app = create_app(config)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    web.run_app(
        app,
        host=host or config.listen.host,
        port=port if port is not None else config.listen.port,
        access_log=None,
        print=lambda msg: click.echo(msg, err=True),
    )
