"""Canonical request paths: one form for routing, policy and forwarding.

The gateway forwards the canonical path, so the upstream sees exactly what was checked.
Percent-encoded unreserved characters are decoded (``%2e`` → ``.``, ``%41`` → ``A``),
duplicate slashes are collapsed and dot segments resolved. Encoded ``/``, ``\\``, NUL,
control characters, double encodings of those, and ``..`` above the root are refused:
they exist to make a proxy and an upstream disagree about which resource is meant.
"""

from __future__ import annotations

import re

__all__ = ["PathError", "canonical_path", "split_target"]

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PCT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
# Segments of plain characters, none empty and none starting with a dot: nothing to do.
_ALREADY_CANONICAL = re.compile(
    r"(?:/[A-Za-z0-9_~!$&'()*+,;=:@-][A-Za-z0-9._~!$&'()*+,;=:@-]*)+/?|/"
)
_FORBIDDEN_ENCODED = re.compile(r"%(2[fF]|5[cC]|00|25(2[eEfF]|5[cC]|00))")


class PathError(ValueError):
    """The request target cannot be canonicalised safely."""


def split_target(raw_target: str) -> tuple[str, str]:
    """Split a raw request target into (raw path, raw query)."""
    path, _, query = raw_target.partition("?")
    path = path.partition("#")[0]
    return path, query


def _decode_unreserved(path: str) -> str:
    def repl(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    return _PCT.sub(repl, path)


def _remove_dot_segments(segments: list[str]) -> list[str]:
    out: list[str] = []
    for segment in segments:
        if segment == ".":
            continue
        if segment == "..":
            if not out:
                raise PathError("path climbs above the root")
            out.pop()
            continue
        out.append(segment)
    return out


def canonical_path(raw_path: str) -> str:
    """Return the canonical form of a raw (still percent-encoded) path."""
    if _ALREADY_CANONICAL.fullmatch(raw_path):
        return raw_path
    if not raw_path.startswith("/"):
        raise PathError("path must start with /")
    if _UNSAFE_CHARS.search(raw_path):
        raise PathError("path contains a control character, space or backslash")
    if _FORBIDDEN_ENCODED.search(raw_path):
        raise PathError("path contains an encoded slash, backslash, NUL or a double encoding")
    decoded = _decode_unreserved(raw_path)
    trailing = decoded.endswith("/") or decoded.endswith("/.") or decoded.endswith("/..")
    segments = [s for s in decoded.split("/") if s]
    segments = _remove_dot_segments(segments)
    path = "/" + "/".join(segments)
    if trailing and segments:
        path += "/"
    return path
