"""``dlp-gateway approvals``: list, show and decide export approvals from the shell.

The CLI works on the gateway's shared database directly (``store.url``, default the SQLite
file in the state directory; an operator's tool: whoever can run it can read that state).
Approving still applies every rule: the approver must not be the requester and must
belong to the approval's tenant.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from gateway.approvals.store import Approval, ApprovalError, ApprovalStore
from gateway.config import ConfigError, load_config

__all__ = ["approvals"]

T = TypeVar("T")


def _store(ctx: click.Context) -> ApprovalStore:
    config_path = ctx.obj["config"]
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    return ApprovalStore.open(config.database_url())


def _run(ctx: click.Context,
         action: Callable[[ApprovalStore], Coroutine[Any, Any, T]]) -> T:
    store = _store(ctx)
    try:
        return asyncio.run(action(store))
    except ApprovalError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    finally:
        store.close()


def _echo(approval: Approval) -> None:
    click.echo(orjson.dumps(dataclasses.asdict(approval)).decode())


@click.group()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False,
              exists=True, path_type=Path), help="Gateway config (store.url).")
@click.pass_context
def approvals(ctx: click.Context, config_path: Path) -> None:
    """Inspect and decide export approvals."""
    ctx.obj = {"config": config_path}


@approvals.command("list")
@click.option("--state", default=None, help="pending, approved, denied, used, expired…")
@click.pass_context
def list_(ctx: click.Context, state: str | None) -> None:
    """One JSON line per approval."""
    for approval in _run(ctx, lambda store: store.list(state=state)):
        _echo(approval)


@approvals.command()
@click.argument("approval_id")
@click.pass_context
def show(ctx: click.Context, approval_id: str) -> None:
    """One approval as JSON."""
    found = _run(ctx, lambda store: store.get(approval_id))
    if found is None:
        raise click.ClickException(f"no approval {approval_id}")
    _echo(found)


def _decision(name: str) -> Any:
    @approvals.command(name)
    @click.argument("approval_id")
    @click.option("--as", "actor", required=True, help="The approver's user id.")
    @click.option("--tenant", "tenants", multiple=True, help="The approver's tenants (* = all).")
    @click.option("--comment", default=None)
    @click.pass_context
    def decide(ctx: click.Context, approval_id: str, actor: str, tenants: tuple[str, ...],
               comment: str | None) -> None:
        method = getattr(ApprovalStore, name)
        _echo(_run(ctx, lambda store: method(store, approval_id, actor, tenants, comment)))

    decide.__doc__ = f"{name.capitalize()} a pending approval as an approver."
    return decide


approve = _decision("approve")
deny = _decision("deny")


@approvals.command()
@click.argument("approval_id")
@click.option("--as", "actor", required=True, help="Who revokes it.")
@click.pass_context
def revoke(ctx: click.Context, approval_id: str, actor: str) -> None:
    """Revoke an approval so it can no longer be used."""
    _echo(_run(ctx, lambda store: store.revoke(approval_id, actor)))
