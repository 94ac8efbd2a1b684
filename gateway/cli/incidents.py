"""``dlp-gateway incidents``: list, show and report incidents from the shell.

Works on the gateway's shared database directly (``store.url``, default the SQLite file
in the state directory), like ``dlp-gateway approvals``: an operator's tool, read-only.
``report`` writes the same JSON, HTML or PDF as ``GET /_dlp/incidents/ID/report``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import click
import orjson

from gateway.config import ConfigError, load_config
from reports.database import Database, DatabaseError, open_database
from reports.incident import KINDS, SEVERITIES, STATUSES, Incident, parse_when
from reports.incident_store import IncidentQuery, IncidentStore
from reports.render import FORMATS, LANGS, ReportRenderer, format_time

__all__ = ["incidents"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Opened:
    store: IncidentStore
    db: Database
    cjk_font: str | None


def _run(ctx: click.Context, action: Callable[[_Opened], T]) -> T:
    try:
        config = load_config(ctx.obj["config"])
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        db = open_database(config.database_url())
    except DatabaseError as exc:
        raise click.ClickException(f"cannot open the store: {type(exc).__name__}") from None
    try:
        store = IncidentStore(db, window=config.incidents.dedup_window_seconds,
                              regimes=config.incidents.regimes())
        return action(_Opened(store, db, config.incidents.report_cjk_font))
    except DatabaseError as exc:
        raise click.ClickException(f"the store failed: {type(exc).__name__}") from None
    finally:
        db.close()


def _time(value: str | None) -> float | None:
    try:
        return parse_when(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _get(store: IncidentStore, incident_id: str) -> Incident:
    incident = store.get(incident_id)
    if incident is None:
        raise click.ClickException(f"no incident {incident_id}")
    return incident


@click.group()
@click.option("--config", "config_path", envvar="DLPGW_CONFIG", required=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Gateway config (store.url). Default: $DLPGW_CONFIG.")
@click.pass_context
def incidents(ctx: click.Context, config_path: Path) -> None:
    """List, show and report incidents."""
    ctx.obj = {"config": config_path}


@incidents.command("list")
@click.option("--status", type=click.Choice(STATUSES), default=None)
@click.option("--severity", type=click.Choice(SEVERITIES), default=None)
@click.option("--kind", type=click.Choice(KINDS), default=None)
@click.option("--category", default=None, help="An entity type, e.g. CN_MOBILE.")
@click.option("--since", default=None, help="ISO 8601 time or Unix timestamp (last seen).")
@click.option("--until", default=None, help="ISO 8601 time or Unix timestamp (created).")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def list_(ctx: click.Context, status: str | None, severity: str | None,  # noqa: PLR0913, PLR0917 - one per CLI option
          kind: str | None, category: str | None, since: str | None, until: str | None,
          limit: int, as_json: bool) -> None:
    """Incidents, newest first."""
    query = IncidentQuery(status=status, severity=severity, kind=kind, category=category,
                          since=_time(since), until=_time(until), limit=limit)
    found = _run(ctx, lambda o: o.store.search(query))
    for inc in found:
        if as_json:
            click.echo(orjson.dumps(inc.to_json()).decode())
            continue
        categories = ",".join(c["entity"] for c in inc.categories) or "-"
        click.echo(f"{inc.id}  {inc.status:<14} {inc.severity:<8} {inc.kind:<15} "
                   f"{inc.event_count:>7}  {format_time(inc.created_at)}  {categories}  "
                   f"{inc.summary}")
    if not as_json:
        click.echo(f"{len(found)} incident(s)", err=True)


@incidents.command()
@click.argument("incident_id")
@click.pass_context
def show(ctx: click.Context, incident_id: str) -> None:
    """One incident and its action log as JSON."""
    doc = _run(ctx, lambda o: {"incident": _get(o.store, incident_id).to_json(),
                               "actions": o.store.actions(incident_id)})
    click.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())


@incidents.command()
@click.argument("incident_id")
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default="json",
              show_default=True)
@click.option("--lang", type=click.Choice(LANGS), default="en", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write to this file (default: standard output).")
@click.pass_context
def report(ctx: click.Context, incident_id: str, fmt: str, lang: str,
           output: Path | None) -> None:
    """The compliance report: canonical JSON, or HTML/PDF to send on (zh or en)."""
    def render(opened: _Opened) -> bytes:
        incident = _get(opened.store, incident_id)
        renderer = ReportRenderer(opened.db, cjk_font=opened.cjk_font)
        body, _ = renderer(incident, opened.store.actions(incident_id), fmt, lang)
        return body

    body = _run(ctx, render)
    if output is None:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return
    output.write_bytes(body)
    click.echo(f"wrote {output} ({len(body):,} bytes)", err=True)
