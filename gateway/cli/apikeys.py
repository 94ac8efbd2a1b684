"""``dlp-gateway apikeys``: create, list and revoke API keys; hash a static key.

The store and the pepper come from the gateway config's ``auth.api_keys`` (``--config``
or ``DLPGW_CONFIG``), or from ``--store`` with the pepper in the environment variable
``DLPGW_AUTH__API_KEYS__PEPPER`` (the one that also overrides the config key). A new
key is printed once, alone on stdout; nothing else ever prints a secret or a digest,
except ``hash``, whose output is meant for a static entry in the config.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click
import orjson

from gateway.authn.apikeys import ApiKeyStore, hash_api_key
from gateway.authn.authenticator import check_user, split_names
from gateway.authn.settings import AuthSettings
from gateway.config import ConfigError, load_config
from gateway.exchange import Principal

__all__ = ["PEPPER_ENV", "apikeys"]

PEPPER_ENV = "DLPGW_AUTH__API_KEYS__PEPPER"
_MIN_PEPPER = 16
_DAY = 86400


@dataclass(frozen=True, slots=True)
class _Where:
    config_path: str | None
    store_path: str | None


def _from_config(path: str) -> tuple[Path, str]:
    try:
        config = load_config(path)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    auth = config.auth
    if not isinstance(auth, AuthSettings) or auth.api_keys is None:
        raise click.UsageError(f"{path} has no auth.api_keys section")
    if not auth.api_keys.store_path:
        raise click.UsageError(f"{path}: auth.api_keys.store_path is not set")
    return config.state_path(auth.api_keys.store_path), auth.api_keys.pepper.get_secret_value()


def _resolve(where: _Where) -> tuple[Path, str | None]:
    if where.store_path:
        return Path(where.store_path), os.environ.get(PEPPER_ENV)
    if where.config_path:
        return _from_config(where.config_path)
    raise click.UsageError("give --config (or set DLPGW_CONFIG) or --store")


def _existing(path: Path) -> ApiKeyStore:
    if not path.is_file():
        raise click.UsageError(f"no key store at {path}")
    return ApiKeyStore(path)


def _pepper(pepper: str | None) -> bytes:
    if pepper is None or len(pepper) < _MIN_PEPPER:
        raise click.UsageError(f"the pepper is missing or shorter than {_MIN_PEPPER} "
                               f"characters (config auth.api_keys.pepper or {PEPPER_ENV})")
    return pepper.encode()


@click.group()
@click.option("--config", "config_path", envvar="DLPGW_CONFIG",
              type=click.Path(dir_okay=False, exists=True), help="Gateway config file.")
@click.option("--store", "store_path", type=click.Path(dir_okay=False),
              help="SQLite key store (instead of the config's auth.api_keys.store_path).")
@click.pass_context
def apikeys(ctx: click.Context, config_path: str | None, store_path: str | None) -> None:
    """Manage API keys (a key's secret is shown once, when it is created)."""
    ctx.obj = _Where(config_path, store_path)


@apikeys.command()
@click.option("--user", required=True, help="The user the key authenticates as.")
@click.option("--role", "roles", multiple=True, help="A role (repeatable).")
@click.option("--tenant", "tenants", multiple=True, help="A tenant (repeatable).")
@click.option("--expires-days", type=click.IntRange(min=1), default=None,
              help="Expire the key after this many days (default: never).")
@click.pass_obj
def create(where: _Where, user: str, roles: tuple[str, ...], tenants: tuple[str, ...],
           expires_days: int | None) -> None:
    """Create a key and print it once on stdout."""
    try:
        owner = Principal(check_user(user), split_names(list(roles)),
                          split_names(list(tenants)), "api_key")
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    path, pepper = _resolve(where)
    expires = int(time.time()) + expires_days * _DAY if expires_days else None
    record, key = ApiKeyStore(path).create(owner, _pepper(pepper), expires)
    click.echo(key)
    click.echo(f"created key {record.id} for {record.user}; it will not be shown again",
               err=True)


@apikeys.command(name="list")
@click.pass_obj
def list_keys(where: _Where) -> None:
    """One JSON line per key: id, user, roles, tenants, times, status (no secrets)."""
    path, _ = _resolve(where)
    now = time.time()
    for record in _existing(path).list_keys():
        click.echo(orjson.dumps(record.to_dict(now)).decode())


@apikeys.command()
@click.argument("key_id")
@click.pass_obj
def revoke(where: _Where, key_id: str) -> None:
    """Revoke the key with this id (effective on the next request)."""
    path, _ = _resolve(where)
    if not _existing(path).revoke(key_id):
        click.echo(f"no key with id {key_id}", err=True)
        sys.exit(1)
    click.echo(f"revoked {key_id}")


@apikeys.command(name="hash")
@click.pass_obj
def hash_key(where: _Where) -> None:
    """Read a static key (hidden prompt) and print its digest for auth.api_keys.static."""
    _, pepper = _resolve(where)
    secret = _pepper(pepper)
    key = click.prompt("API key", hide_input=True, err=True).strip()
    click.echo(hash_api_key(secret, key))
