"""Command-line interface: one module per command group."""

from gateway.cli.main import cli, main

__all__ = ["cli", "main"]
