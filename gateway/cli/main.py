"""``dlp-gateway``: the root command; each sub-command lives in its own module."""

from __future__ import annotations

import click

from gateway import __version__
from gateway.cli.apikeys import apikeys
from gateway.cli.approvals import approvals
from gateway.cli.audit import audit
from gateway.cli.demo import demo, demo_upstream
from gateway.cli.incidents import incidents
from gateway.cli.policy import policy
from gateway.cli.scan import scan
from gateway.cli.serve import serve
from gateway.cli.trace import trace

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """dlp-gateway: a data-loss-prevention reverse proxy for legacy CRMs."""


@cli.command()
def version() -> None:
    """Print the version."""
    click.echo(__version__)


cli.add_command(serve)
cli.add_command(demo)
cli.add_command(demo_upstream)
cli.add_command(scan)
cli.add_command(apikeys)
cli.add_command(policy)
cli.add_command(approvals)
cli.add_command(trace)
cli.add_command(audit)
cli.add_command(incidents)


def main() -> None:
    cli(prog_name="dlp-gateway")
