"""``dlp-gateway audit``: signing keys, chain verification, SIEM export and retention.

Exit codes: 0 when the chain is intact, 1 when ``verify`` finds it tampered, 2 for usage,
configuration or database errors.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import click
import orjson

from gateway.audit_wiring import load_signer, prune_audit_log, trusted_keys
from gateway.config import Config, ConfigError, load_config
from reports.audit_chain import format_time, generate_key, key_id, public_pem
from reports.audit_log import AuditLog, AuditOptions
from reports.audit_store import StoredEntry, iter_entries
from reports.audit_verify import verify_chain
from reports.database import Database, DatabaseError, open_database

__all__ = ["audit"]


class _Unusable(click.ClickException):
    exit_code = 2


def _config(path: Path) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        raise _Unusable(str(exc)) from None


@contextmanager
def _database(config: Config) -> Iterator[Database]:
    try:
        db = open_database(config.database_url())
    except DatabaseError as exc:
        raise _Unusable(f"cannot open the database: {type(exc).__name__}") from None
    try:
        yield db
    except DatabaseError as exc:
        raise _Unusable(f"database error: {type(exc).__name__}") from None
    finally:
        db.close()


def _when(value: str | None) -> str | None:
    """An ISO date or date-time (UTC unless it says otherwise) in the log's time format."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date or date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_time(moment.timestamp())


_config_option = click.option(
    "--config", "config_path", default="gateway.yaml", show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Gateway config (store.url, state_dir, audit.*).")


@click.group()
def audit() -> None:
    """Verify, export and prune the tamper-evident audit log."""


@audit.command()
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the Ed25519 private key (PEM, mode 0600).")
@click.option("--force", is_flag=True, help="Replace an existing key file.")
def keygen(out: Path, force: bool) -> None:
    """Create a signing key; prints its public key (keep a copy to verify with)."""
    if out.exists() and not force:
        raise _Unusable(f"{out} exists; pass --force to replace it")
    key = generate_key(out, overwrite=force)
    click.echo(f"wrote {out} (key id {key_id(key.public_key())}); public key:", err=True)
    click.echo(public_pem(key.public_key()), nl=False)


@audit.command()
@click.option("--public-key", "public_keys", multiple=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Trust only these public keys (PEM; repeatable). Default: the public "
                   "half of audit.signing_key.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_config_option
@click.pass_context
def verify(ctx: click.Context, public_keys: tuple[Path, ...], as_json: bool,
           config_path: Path) -> None:
    """Check every entry's hash link and every checkpoint signature."""
    config = _config(config_path)
    try:
        keys = trusted_keys(config, public_keys)
    except (OSError, ValueError) as exc:
        raise _Unusable(str(exc)) from None
    with _database(config) as db:
        report = verify_chain(db, keys)
    if as_json:
        click.echo(orjson.dumps(report.to_dict()).decode())
    elif report.ok:
        click.echo(f"audit log intact: {report.entries} entries "
                   f"(seq {report.first_seq}..{report.last_seq}), "
                   f"{report.checkpoints} signed checkpoints")
    else:
        bad = report.first_bad
        assert bad is not None
        click.echo(f"audit log TAMPERED: first bad seq {bad.seq}: {bad.reason}")
        for problem in sorted(report.problems, key=lambda p: p.seq)[1:20]:
            click.echo(f"  also seq {problem.seq}: {problem.reason}")
    ctx.exit(0 if report.ok else 1)


def _line(entry: StoredEntry) -> bytes:
    try:
        payload: Any = orjson.loads(entry.payload)
    except orjson.JSONDecodeError:
        payload = entry.payload
    return orjson.dumps({"seq": entry.seq, "at": entry.at, "kind": entry.kind,
                         "actor": entry.actor, "payload": payload,
                         "prev_hash": entry.prev_hash, "hash": entry.hash}) + b"\n"


@audit.command()
@click.option("--since", default=None, help="ISO date/time (UTC), inclusive.")
@click.option("--until", default=None, help="ISO date/time (UTC), exclusive.")
@click.option("--out", "out", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@_config_option
def export(since: str | None, until: str | None, out: Path | None, config_path: Path) -> None:
    """Write entries as JSON lines for a SIEM (with their hashes, so gaps show)."""
    config = _config(config_path)
    start, end = _when(since), _when(until)
    with _database(config) as db:
        stream: IO[bytes] = out.open("wb") if out else sys.stdout.buffer
        try:
            count = 0
            for entry in iter_entries(db, start, end):
                stream.write(_line(entry))
                count += 1
            stream.flush()
        finally:
            if out:
                stream.close()
    click.echo(f"exported {count} entries", err=True)


@audit.command()
@_config_option
def prune(config_path: Path) -> None:
    """Delete entries older than audit.retention_days; a signed checkpoint anchors the cut."""
    config = _config(config_path)
    try:
        signer = load_signer(config)
    except (OSError, ValueError) as exc:
        raise _Unusable(str(exc)) from None
    with _database(config) as db:
        audit_log = AuditLog(db, signer, options=AuditOptions(checkpoint_seconds=3600))
        try:
            result = prune_audit_log(audit_log, config.audit.retention_days)
        finally:
            audit_log.close()
    click.echo(orjson.dumps({"deleted": result.deleted, "cut_seq": result.cut_seq,
                             "retention_days": config.audit.retention_days}).decode())
