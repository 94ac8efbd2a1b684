"""What every authentication method provides, and the one error they raise."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

from multidict import CIMultiDict

from gateway.exchange import Exchange, Principal

__all__ = [
    "MAX_NAMES",
    "AuthError",
    "Authenticator",
    "check_user",
    "drop_headers",
    "split_names",
]

MAX_NAMES = 64
_MAX_NAME_LENGTH = 128
_MAX_USER_LENGTH = 256
_SEPARATORS = re.compile(r"[\s,]+")
_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f]")


class AuthError(Exception):
    """A credential was presented and is not acceptable.

    ``reason`` is a short fixed code (``expired_token``, ``revoked_api_key`` …) that is
    safe to log and audit; it never contains any part of the credential. ``subject``
    optionally names the credential by a public identifier (an API key id, a ``kid``).
    """

    def __init__(self, reason: str, challenge_error: str = "invalid_token",
                 subject: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.challenge_error = challenge_error
        self.subject = subject


class Authenticator(Protocol):
    """One authentication method.

    ``authenticate`` returns ``None`` when the request carries none of this method's
    credentials, a :class:`Principal` when they are valid, and raises :class:`AuthError`
    when they are present but invalid. ``strip`` removes the method's headers from the
    request before it is forwarded (``forward=False``), and always removes those that
    must never reach the upstream. ``challenge`` is this method's ``WWW-Authenticate``
    value, or ``None``.
    """

    method: str

    async def authenticate(self, ex: Exchange) -> Principal | None: ...

    def strip(self, ex: Exchange, forward: bool) -> None: ...

    def challenge(self, realm: str, error: str | None) -> str | None: ...


def split_names(value: object) -> tuple[str, ...]:
    """Roles or tenants from a claim or header: a list, or a comma/space separated string.

    Raises ``ValueError`` for anything else, a control character, an over-long name or
    more than :data:`MAX_NAMES` entries. Duplicates are dropped, order is kept.
    """
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[object] = [part for part in _SEPARATORS.split(value) if part]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise ValueError("expected a list or a string")
    if len(items) > MAX_NAMES:
        raise ValueError("too many names")
    names: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValueError("names must be non-empty strings")
        name = item.strip()
        if len(name) > _MAX_NAME_LENGTH or _BAD_CHARS.search(name):
            raise ValueError("name too long or with control characters")
        if name not in names:
            names.append(name)
    return tuple(names)


def check_user(value: object) -> str:
    """The user id: a non-empty string without control characters, at most 256 long."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("the user must be a non-empty string")
    user = value.strip()
    if len(user) > _MAX_USER_LENGTH or _BAD_CHARS.search(user):
        raise ValueError("the user is too long or has control characters")
    return user


def drop_headers(ex: Exchange, names: Iterable[str]) -> None:
    """Remove every value of these request headers before the request is forwarded."""
    headers = ex.request.headers
    if not isinstance(headers, CIMultiDict):
        headers = ex.request.headers = CIMultiDict(headers)
    for name in names:
        headers.popall(name, None)
