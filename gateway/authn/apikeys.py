"""API keys (``X-API-Key``): generation, the SQLite store and verification.

A key looks like ``dlpk_<id>_<secret>``: ``<id>`` is 16 hex digits, public, used to
find the row (and safe to log); ``<secret>`` is 32 random bytes, URL-safe base64. Only
``HMAC-SHA256(pepper, key)`` is stored. A slow password KDF (scrypt, Argon2) exists to
make guessing *low-entropy* secrets expensive; these keys carry 256 random bits, so no
guess can succeed either way, while a slow KDF would cost tens of milliseconds of CPU
per request and invite denial of service. The server-side pepper (``api_keys.pepper``,
kept out of the database) means a stolen database alone cannot even be used to test a
candidate key. Changing the pepper invalidates every key. Digests are compared with
:func:`hmac.compare_digest`.

The store is one table in a SQLite file (created, mode 0600, if missing). Each lookup
opens its own short connection in a worker thread, so the CLI can create and revoke
keys while the gateway runs and revocation takes effect on the next request.

Static keys come from the config: normally as the hex digest (``apikeys hash`` prints
it), or — for demos only, with ``demo: true`` — as the plain key, hashed at start.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from gateway.authn.authenticator import AuthError, drop_headers
from gateway.authn.settings import ApiKeySettings, StaticApiKey
from gateway.exchange import Exchange, Principal

__all__ = [
    "KEY_PREFIX",
    "ApiKeyAuthenticator",
    "ApiKeyRecord",
    "ApiKeyStore",
    "generate_api_key",
    "hash_api_key",
    "parse_api_key",
]

log = logging.getLogger("dlpgw.authn.apikeys")

KEY_PREFIX = "dlpk"
_ID = re.compile(r"[0-9a-f]{16}")
_MAX_KEY_LENGTH = 256
_BUSY_TIMEOUT = 2.0
_SCHEMA = """CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, hash TEXT NOT NULL, user TEXT NOT NULL, roles TEXT NOT NULL,
    tenants TEXT NOT NULL, created INTEGER NOT NULL, expires INTEGER, revoked INTEGER)"""
_COLUMNS = "id, user, roles, tenants, created, expires, revoked"


def generate_api_key() -> tuple[str, str]:
    """A fresh ``(id, key)``."""
    key_id = secrets.token_hex(8)
    return key_id, f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def parse_api_key(key: str) -> str | None:
    """The id of a well-formed ``dlpk_<id>_<secret>`` key, else ``None``."""
    parts = key.split("_", 2)
    if len(parts) == 3 and parts[0] == KEY_PREFIX and _ID.fullmatch(parts[1]) and parts[2]:
        return parts[1]
    return None


def hash_api_key(pepper: bytes, key: str) -> str:
    return hmac.new(pepper, key.encode(), hashlib.sha256).hexdigest()


def _iso(ts: int | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A stored key without its digest: what ``list`` shows."""

    id: str
    user: str
    roles: tuple[str, ...]
    tenants: tuple[str, ...]
    created: int
    expires: int | None = None
    revoked: int | None = None

    def status(self, now: float) -> str:
        if self.revoked is not None:
            return "revoked"
        if self.expires is not None and self.expires <= now:
            return "expired"
        return "active"

    def to_dict(self, now: float) -> dict[str, Any]:
        return {"id": self.id, "user": self.user, "roles": list(self.roles),
                "tenants": list(self.tenants), "created": _iso(self.created),
                "expires": _iso(self.expires), "revoked": _iso(self.revoked),
                "status": self.status(now)}

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> ApiKeyRecord:
        key_id, user, roles, tenants, created, expires, revoked = row
        return cls(key_id, user, tuple(orjson.loads(roles)), tuple(orjson.loads(tenants)),
                   created, expires, revoked)


class ApiKeyStore:
    """One SQLite table: id, hash, user, roles, tenants, created, expires, revoked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        with self._connect() as conn:
            conn.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT)
        try:
            with conn:
                yield conn
        finally:
            conn.close()

    def create(self, owner: Principal, pepper: bytes,
               expires: int | None = None) -> tuple[ApiKeyRecord, str]:
        """Store a new key for ``owner``; return its record and the key (shown once)."""
        key_id, key = generate_api_key()
        record = ApiKeyRecord(key_id, owner.user, owner.roles, owner.tenants,
                              int(time.time()), expires)
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO api_keys (id, hash, user, roles, tenants, created, expires) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key_id, hash_api_key(pepper, key), record.user,
                 orjson.dumps(record.roles).decode(), orjson.dumps(record.tenants).decode(),
                 record.created, expires),
            )
        return record, key

    def list_keys(self) -> list[ApiKeyRecord]:
        with self._connect() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created, id")  # noqa: S608 - constant columns
            return [ApiKeyRecord.from_row(row) for row in rows.fetchall()]

    def revoke(self, key_id: str) -> bool:
        """Mark a key revoked (idempotent); ``False`` if there is no such key."""
        with self._connect() as conn:
            conn.execute("UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL",
                         (int(time.time()), key_id))
            row = conn.execute("SELECT 1 FROM api_keys WHERE id = ?", (key_id,)).fetchone()
        return row is not None

    def lookup(self, key_id: str) -> tuple[ApiKeyRecord, str] | None:
        """The record and stored digest for ``key_id``."""
        with self._connect() as conn:
            row = conn.execute(f"SELECT {_COLUMNS}, hash FROM api_keys WHERE id = ?",  # noqa: S608 - constant columns
                               (key_id,)).fetchone()
        if row is None:
            return None
        return ApiKeyRecord.from_row(row[:-1]), str(row[-1])


@dataclass(frozen=True, slots=True)
class _StaticKey:
    name: str
    digest: str
    principal: Principal


class ApiKeyAuthenticator:
    method = "api_key"

    def __init__(self, settings: ApiKeySettings, store: ApiKeyStore | None) -> None:
        self._pepper = settings.pepper.get_secret_value().encode()
        self._header = settings.header
        self._store = store
        self._static = tuple(self._static_key(entry) for entry in settings.static)

    @classmethod
    def from_settings(cls, settings: ApiKeySettings,
                      store_path: Path | None) -> ApiKeyAuthenticator:
        return cls(settings, ApiKeyStore(store_path) if store_path is not None else None)

    def _static_key(self, entry: StaticApiKey) -> _StaticKey:
        if entry.key is not None:
            log.warning("static API key %r is a plain-text demo key; configure its hash "
                        "outside demos", entry.name)
            digest = hash_api_key(self._pepper, entry.key.get_secret_value())
        else:
            digest = entry.hash or ""
        principal = Principal(entry.user, tuple(entry.roles), tuple(entry.tenants),
                              self.method)
        return _StaticKey(entry.name, digest, principal)

    async def authenticate(self, ex: Exchange) -> Principal | None:
        values = ex.request.headers.getall(self._header, [])
        if not values:
            return None
        if len(values) > 1:
            raise AuthError("ambiguous_credentials", "invalid_request")
        key = values[0].strip()
        if not key or len(key) > _MAX_KEY_LENGTH:
            raise AuthError("malformed_api_key")
        digest = hash_api_key(self._pepper, key)
        key_id = parse_api_key(key)
        if key_id is not None and self._store is not None:
            return await self._stored(key_id, digest)
        return self._static_match(digest)

    async def _stored(self, key_id: str, digest: str) -> Principal:
        assert self._store is not None
        found = await asyncio.to_thread(self._store.lookup, key_id)
        if found is None:
            raise AuthError("unknown_api_key", subject=key_id)
        record, stored = found
        if not hmac.compare_digest(stored, digest):
            raise AuthError("wrong_api_key_secret", subject=key_id)
        status = record.status(time.time())
        if status != "active":
            raise AuthError(f"{status}_api_key", subject=key_id)
        return Principal(record.user, record.roles, record.tenants, self.method)

    def _static_match(self, digest: str) -> Principal:
        match: _StaticKey | None = None
        for entry in self._static:
            if hmac.compare_digest(entry.digest, digest):
                match = entry
        if match is None:
            raise AuthError("unknown_api_key")
        return match.principal

    def strip(self, ex: Exchange, forward: bool) -> None:
        if not forward:
            drop_headers(ex, (self._header,))

    def challenge(self, realm: str, error: str | None) -> str | None:
        return f'ApiKey realm="{realm}", header="{self._header}"'
