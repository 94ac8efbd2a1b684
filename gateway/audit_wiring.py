"""Building the audit log from the configuration: signing key, writer, retention."""

from __future__ import annotations

import asyncio
import logging
import stat
import time
from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.config import Config
from reports.audit_chain import Signer, format_time, generate_key, key_id, load_private_key
from reports.audit_chain import load_public_key as _load_public_key
from reports.audit_log import AuditLog, AuditMetrics, AuditOptions
from reports.audit_store import PruneResult, prune_before
from reports.database import Database

__all__ = ["DEFAULT_SIGNING_KEY", "load_signer", "open_audit_log", "prune_audit_log",
           "prune_periodically", "signing_key_path", "trusted_keys"]

DEFAULT_SIGNING_KEY = "audit-signing-key.pem"
log = logging.getLogger("dlpgw.audit")


def signing_key_path(config: Config) -> Path:
    return config.state_path(config.audit.signing_key or DEFAULT_SIGNING_KEY)


def load_signer(config: Config, *, create: bool = False) -> Signer:
    """The configured key; without ``audit.signing_key``, one generated in the state dir."""
    path = signing_key_path(config)
    if not path.exists():
        if config.audit.signing_key is not None or not create:
            raise ValueError(f"audit.signing_key: {path} does not exist; create it with "
                             f"`dlp-gateway audit keygen --out {path}`")
        try:
            key = generate_key(path)
        except FileExistsError:  # another worker generated it first
            return Signer(load_private_key(path))
        log.warning("audit.signing_key is not set: generated %s (key id %s); keep a copy of "
                    "its public key away from this host to verify the log independently",
                    path, key_id(key.public_key()))
        return Signer(key)
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("audit signing key %s is readable by other users; chmod 600 it", path)
    try:
        return Signer(load_private_key(path))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"audit.signing_key: {path}: {exc}") from None


def trusted_keys(config: Config, public_keys: Iterable[Path] = ()) -> dict[str, Ed25519PublicKey]:
    """The given public keys; without any, the public half of the configured signing key."""
    keys = [_load_public_key(path) for path in public_keys]
    if not keys:
        keys = [load_signer(config).public_key]
    return {key_id(key): key for key in keys}


def open_audit_log(config: Config, metrics: AuditMetrics, database: Database) -> AuditLog:
    audit = config.audit
    options = AuditOptions(checkpoint_seconds=audit.checkpoint_seconds,
                           checkpoint_entries=audit.checkpoint_entries,
                           queue_max=audit.queue_max)
    return AuditLog(database, load_signer(config, create=True), metrics, options)


def prune_audit_log(audit_log: AuditLog, retention_days: int,
                    now: float | None = None) -> PruneResult:
    """Delete entries older than the retention, anchored by a signed checkpoint (blocking)."""
    now = time.time() if now is None else now
    cutoff = format_time(now - retention_days * 86_400)
    result = prune_before(audit_log.db, audit_log.signer, cutoff, format_time(now))
    if result.deleted:
        audit_log.append_durable_sync({"kind": "audit_prune", "cut_seq": result.cut_seq,
                                       "deleted": result.deleted, "cutoff": cutoff,
                                       "retention_days": retention_days})
    return result


async def prune_periodically(audit_log: AuditLog, config: Config) -> None:
    while True:
        try:
            result = await asyncio.to_thread(prune_audit_log, audit_log,
                                             config.audit.retention_days)
        except Exception as exc:
            log.error("audit prune failed: %s", type(exc).__name__)
        else:
            if result.deleted:
                log.info("audit log pruned: %d entries up to seq %d", result.deleted,
                         result.cut_seq)
        await asyncio.sleep(config.audit.prune_interval_seconds)
