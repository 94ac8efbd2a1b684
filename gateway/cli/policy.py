"""``dlp-gateway policy``: ask the access policy one question, or run a golden table.

``check`` prints ``{"decision", "rule", "policy_version", "reason"}`` as JSON and exits 0
whatever the decision; ``test`` prints one line per failed case, then ``N passed, N failed``
and exits 1 if any case failed. Both exit 3 when the policy (or table) cannot be loaded.
``push`` validates the files and stores them in the gateway's shared database (``store.url``),
where every replica picks them up within ``store.policy_poll_seconds``; it prints the stored
version as JSON and exits 3 when the policy is refused.
Policy files come from ``--model/--policy/--grouping``, else from the ``policy`` section of
``--config`` (paths relative to the config file), else the packaged default policy.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson
import yaml

from gateway.config import ConfigError, load_config
from gateway.paths import PathError
from gateway.policy_store import PolicyStore
from policies.access import (
    DEFAULT_TENANT_PATTERNS,
    AccessPolicy,
    PolicyError,
    PolicyFiles,
    canonical_for_policy,
    default_policy_files,
    tenant_from_path,
)
from policies.golden import GoldenError, load_golden, run_golden
from reports.database import DatabaseError, open_database

__all__ = ["EXIT_POLICY", "policy"]

EXIT_POLICY = 3
_FILE = click.Path(dir_okay=False, exists=True, path_type=Path)


def _config_section(config: Path | None) -> dict[str, Any]:
    if config is None:
        return {}
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise click.UsageError(f"cannot read {config}: {exc}") from None
    section = data.get("policy") if isinstance(data, dict) else None
    if not isinstance(section, dict):
        return {}
    found: dict[str, Any] = {
        key: config.parent / value for key, value in section.items()
        if key in ("model", "policy", "grouping") and isinstance(value, str)
    }
    pattern = section.get("tenant_patterns", section.get("tenant_pattern"))
    if isinstance(pattern, str | list):
        found["tenant_pattern"] = pattern
    return found


def _files(options: dict[str, Path | None], base: PolicyFiles | None) -> PolicyFiles:
    """Command-line files override ``base`` (config or table), else the packaged policy."""
    chosen = (base or default_policy_files())._asdict()
    chosen.update({key: value for key, value in options.items() if value is not None})
    return PolicyFiles(chosen["model"], chosen["policy"], chosen["grouping"])


def _section_files(section: dict[str, Any]) -> PolicyFiles | None:
    if "model" not in section or "policy" not in section:
        return None
    return PolicyFiles(section["model"], section["policy"], section.get("grouping"))


def _policy_options(command: Any) -> Any:
    for name in ("grouping", "policy", "model"):
        command = click.option(f"--{name}", type=_FILE, default=None,
                               help=f"Casbin {name} file (default: packaged policy).")(command)
    return command


@click.group()
def policy() -> None:
    """Inspect and test the access policy (Casbin model + policy)."""


@policy.command()
@click.option("--config", "config_path", type=_FILE, default=None,
              help="Gateway config; its `policy` section names the files.")
@_policy_options
@click.option("--user", required=True, help="User id as the identity stage reports it.")
@click.option("--role", "roles", multiple=True, help="Identity role: NAME or NAME@TENANT.")
@click.option("--tenant", default=None, help="Tenant (project); default: taken from the path.")
@click.argument("method")
@click.argument("path")
def check(config_path: Path | None, model: Path | None, policy: Path | None,  # noqa: PLR0913, PLR0917 - one per CLI option
          grouping: Path | None, user: str, roles: tuple[str, ...], tenant: str | None,
          method: str, path: str) -> None:
    """Print the decision for METHOD PATH as JSON."""
    section = _config_section(config_path)
    files = _files({"model": model, "policy": policy, "grouping": grouping},
                   _section_files(section))
    try:
        access = AccessPolicy.from_files(*files)
        if tenant is None:
            try:
                pattern = section.get("tenant_pattern") or DEFAULT_TENANT_PATTERNS
                tenant = tenant_from_path(canonical_for_policy(path), pattern)
            except PathError:
                tenant = None
        decision = access.decide(user, roles, tenant, method, path)
    except PolicyError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_POLICY)
    click.echo(orjson.dumps({
        "decision": decision.outcome, "rule": list(decision.rule),
        "policy_version": decision.policy_version, "reason": decision.reason,
    }).decode())


@policy.command()
@_policy_options
@click.argument("table", type=_FILE)
def test(model: Path | None, policy: Path | None, grouping: Path | None, table: Path) -> None:
    """Run a golden TABLE (YAML); exit 1 if any case fails."""
    options = {"model": model, "policy": policy, "grouping": grouping}
    try:
        golden = load_golden(table)
        files = _files(options, golden.files)
        failures = run_golden(golden, files)
    except (GoldenError, PolicyError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_POLICY)
    for failure in failures:
        click.echo(f"FAIL {failure.describe()}")
    click.echo(f"{len(golden.cases) - len(failures)} passed, {len(failures)} failed")
    if failures:
        sys.exit(1)


@policy.command()
@click.option("--config", "config_path", type=_FILE, required=True,
              help="Gateway config: its store.url names the database, its policy section "
                   "the files.")
@_policy_options
@click.option("--as", "actor", default="cli", show_default=True,
              help="Who pushes (recorded with the version).")
def push(config_path: Path, model: Path | None, policy: Path | None,
         grouping: Path | None, actor: str) -> None:
    """Validate the policy files and make them every replica's policy."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    files = _files({"model": model, "policy": policy, "grouping": grouping},
                   _section_files(_config_section(config_path)))
    if not config.store.policy_in_database():
        click.echo("warning: this config reads its policy from files (store.policy); "
                   "the pushed copy is used only by gateways with a database policy", err=True)
    try:
        db = open_database(config.database_url())
        try:
            stored = PolicyStore(db).push(files, actor)
        finally:
            db.close()
    except (PolicyError, DatabaseError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_POLICY)
    click.echo(orjson.dumps({"id": stored.id, "version": stored.version,
                             "pushed_by": stored.pushed_by,
                             "pushed_at": stored.pushed_at}).decode())
