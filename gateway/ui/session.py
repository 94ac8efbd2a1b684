"""Signed session cookies for the review UI, and the CSRF token bound to each session.

The cookie holds the principal named at login (user, roles, tenants, method), a random
session id and two times; it is HMAC-SHA256 signed with a key derived from
``secrets.hmac_key``, so the client can read it but not change it. A session ends after
``idle_seconds`` without a request or ``absolute_seconds`` after login, whichever comes
first, or at logout: the id is then refused by this process until its absolute expiry.
The CSRF token is an HMAC of the session id under a second derived key (a synchronizer
token that needs no server-side state); every form carries it and every POST is checked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import orjson
from aiohttp import web

from gateway.detection import derive_key
from gateway.exchange import Principal

__all__ = ["COOKIE", "Session", "SessionCodec", "SessionPolicy"]

COOKIE = "dlpgw_ui"
_VERSION = 1
_MAX_COOKIE = 4096


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """Lifetimes and cookie attributes; ``secure`` should only be off behind plain HTTP."""

    idle_seconds: float = 1800.0
    absolute_seconds: float = 8 * 3600.0
    secure: bool = True
    path: str = "/_dlp/ui"


@dataclass(frozen=True, slots=True)
class Session:
    """``principal`` is None for the anonymous session that carries the login form."""

    sid: str
    issued_at: float
    seen_at: float
    principal: Principal | None = None


class SessionCodec:
    def __init__(self, master: bytes, policy: SessionPolicy,
                 clock: Callable[[], float] = time.time) -> None:
        self.policy = policy
        self._mac_key = derive_key(master, "ui-session")
        self._csrf_key = derive_key(master, "ui-csrf")
        self._clock = clock
        self._revoked: dict[str, float] = {}

    def new(self, principal: Principal | None) -> Session:
        now = self._clock()
        return Session(secrets.token_urlsafe(18), now, now, principal)

    def touch(self, session: Session) -> Session:
        return replace(session, seen_at=self._clock())

    def encode(self, session: Session) -> str:
        p = session.principal
        who = [p.user, list(p.roles), list(p.tenants), p.auth_method] if p else None
        payload = _b64(orjson.dumps(
            [_VERSION, session.sid, session.issued_at, session.seen_at, who]))
        return payload + "." + self._sign(payload)

    def decode(self, value: str | None) -> Session | None:
        """The session in a cookie value, or None if it is forged, malformed or expired."""
        if not value or len(value) > _MAX_COOKIE or value.count(".") != 1:
            return None
        payload, mac = value.split(".")
        if not hmac.compare_digest(mac, self._sign(payload)):
            return None
        try:
            version, sid, issued, seen, who = orjson.loads(_unb64(payload))
        except (ValueError, TypeError):
            return None
        now = self._clock()
        if (version != _VERSION or sid in self._revoked
                or now - issued >= self.policy.absolute_seconds
                or now - seen >= self.policy.idle_seconds or seen > now + 60):
            return None
        principal = None
        if who is not None:
            user, roles, tenants, method = who
            principal = Principal(user, tuple(roles), tuple(tenants), method)
        return Session(sid, float(issued), float(seen), principal)

    def revoke(self, session: Session) -> None:
        now = self._clock()
        for sid in [s for s, until in self._revoked.items() if until <= now]:
            del self._revoked[sid]
        self._revoked[session.sid] = session.issued_at + self.policy.absolute_seconds

    def csrf_token(self, session: Session) -> str:
        return _b64(hmac.new(self._csrf_key, session.sid.encode(), hashlib.sha256).digest())

    def csrf_ok(self, session: Session, token: object) -> bool:
        return isinstance(token, str) and hmac.compare_digest(token, self.csrf_token(session))

    def set_cookie(self, response: web.StreamResponse, session: Session) -> None:
        response.set_cookie(COOKIE, self.encode(session), path=self.policy.path,
                            secure=self.policy.secure, httponly=True, samesite="Strict")

    def clear_cookie(self, response: web.StreamResponse) -> None:
        response.del_cookie(COOKIE, path=self.policy.path, secure=self.policy.secure,
                            httponly=True, samesite="Strict")

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._mac_key, payload.encode(), hashlib.sha256).digest())
