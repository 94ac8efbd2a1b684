"""Policy rows: parsed from CSV text and validated before Casbin ever sees them.

One row per line, ``ptype, field, ...``; ``#`` starts a comment line. Fields are CSV, so a
regex holding a comma (``{1,3}``) must be double-quoted (Casbin's own file adapter would
split it silently). Every check here exists because Casbin accepts the mistake quietly:
unknown ptypes are dropped, short rows only fail at enforce time, ``regexMatch`` is
unanchored, temporal roles vanish on reload, and a user named like a role is that role.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

__all__ = [
    "DOM_PLACEHOLDER",
    "FIELDS",
    "ROLE_PREFIX",
    "RuleError",
    "RuleSet",
    "compile_pattern",
    "parse_rules",
]

ROLE_PREFIX = "role:"
DOM_PLACEHOLDER = "{dom}"
FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "p": ("sub", "dom", "obj", "act", "eft", "nbf", "exp"),
    "p2": ("sub", "dom", "ent", "eft", "nbf", "exp"),
    "p3": ("sub", "dom", "obj", "act", "scope", "nbf", "exp"),
    "g": ("user", "role", "dom"),
})
_CHOICES = {"eft": ("allow", "deny"), "scope": ("member", "outsider")}
_DOMAIN = re.compile(r"\*|[a-z0-9][a-z0-9._-]{0,63}")
_NAME = re.compile(r"[^\s,*\"]{1,128}")
_ESCAPE = re.compile(r"\\.")
_MAX_ERRORS = 10


class RuleError(ValueError):
    """The policy text is invalid; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Validated rows per ptype (without the ptype), compiled patterns and parsed times."""

    rows: Mapping[str, tuple[tuple[str, ...], ...]]
    patterns: Mapping[str, re.Pattern[str]]
    times: Mapping[str, float]


def compile_pattern(text: str) -> re.Pattern[str]:
    """Compile a rule pattern; ``{dom}`` becomes a group that must equal the tenant."""
    return re.compile(text.replace(DOM_PLACEHOLDER, "(?P<dom>[^/]+)"))


def _split(line: str) -> list[str]:
    return [field.strip() for field in next(csv.reader([line], skipinitialspace=True))]


def _check_pattern(kind: str, text: str) -> str | None:
    if not (text.startswith("^") and text.endswith("$")) or text.endswith("\\$"):
        return f"{kind} pattern {text!r} must be anchored as ^...$"
    if kind != "obj" and DOM_PLACEHOLDER in text:
        return f"{{dom}} is only allowed in path patterns, not in {kind} {text!r}"
    if text.count(DOM_PLACEHOLDER) > 1:
        return f"path pattern {text!r} uses {{dom}} more than once"
    letters = _ESCAPE.sub("", text.replace(DOM_PLACEHOLDER, ""))
    if kind == "obj" and any(c.isupper() for c in letters):
        return f"path pattern {text!r} has upper-case letters; paths are matched lower-cased"
    if kind == "act" and any(c.islower() for c in letters):
        return f"method pattern {text!r} has lower-case letters; methods are upper-cased"
    return _compiles(kind, text)


def _compiles(kind: str, text: str) -> str | None:
    try:
        compile_pattern(text)
    except re.error as exc:
        return f"{kind} pattern {text!r} does not compile: {exc}"
    return None


def _parse_time(text: str) -> float | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


def _check_subject(ptype: str, value: str, row: Mapping[str, str]) -> str | None:
    if value == "*" and ptype != "g":
        return None
    if not _NAME.fullmatch(value):
        return f"subject {value!r} is not a valid user or role:NAME"
    if ptype == "p3" and row["scope"] == "outsider" and not value.startswith(ROLE_PREFIX):
        return "an outsider approval rule must name a role:"
    return None


def _check_grouping(row: Mapping[str, str]) -> str | None:
    if not row["role"].startswith(ROLE_PREFIX) or not _NAME.fullmatch(row["role"]):
        return f"g rows grant a role:NAME, not {row['role']!r}"
    if row["user"].startswith(ROLE_PREFIX) and row["dom"] != "*":
        return "role inheritance (g, role:a, role:b, dom) must use the * domain"
    return None


def _check_times(row: Mapping[str, str], times: dict[str, float]) -> str | None:
    bounds: list[float] = []
    for key in ("nbf", "exp"):
        text = row[key]
        if text == "-":
            continue
        moment = _parse_time(text)
        if moment is None:
            return f"{key} {text!r} must be '-' or ISO 8601 with a UTC offset"
        times[text] = moment
        bounds.append(moment)
    if row["nbf"] != "-" and row["exp"] != "-" and bounds[0] >= bounds[1]:
        return "nbf must be before exp"
    return None


def _check_row(ptype: str, row: Mapping[str, str], times: dict[str, float]) -> str | None:
    for key, allowed in _CHOICES.items():
        if key in row and row[key] not in allowed:
            return f"{key} must be one of {'|'.join(allowed)}, not {row[key]!r}"
    if not _DOMAIN.fullmatch(row["dom"]):
        return f"domain {row['dom']!r} must be * or a lower-case tenant name"
    problem = _check_subject(ptype, row["sub" if ptype != "g" else "user"], row)
    if problem is None and ptype == "g":
        return _check_grouping(row)
    for key in ("obj", "act", "ent"):
        if problem is None and key in row:
            problem = _check_pattern(key, row[key])
    return problem if problem is not None else _check_times(row, times)


def _rows(source: str, text: str) -> Iterable[tuple[str, int, list[str]]]:
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield source, number, _split(line)


def parse_rules(sources: Sequence[tuple[str, str]]) -> RuleSet:
    """Parse and validate ``(name, text)`` policy sources; raise RuleError listing problems."""
    rows: dict[str, list[tuple[str, ...]]] = {ptype: [] for ptype in FIELDS}
    times: dict[str, float] = {}
    errors: list[str] = []
    for source, number, fields in (item for name, text in sources for item in _rows(name, text)):
        ptype, values = fields[0], fields[1:]
        names = FIELDS.get(ptype)
        if names is None:
            problem: str | None = f"unknown rule type {ptype!r} (expected p, p2, p3 or g)"
        elif len(values) != len(names):
            problem = (f"{ptype} rows have {len(names)} fields ({', '.join(names)}), "
                       f"got {len(values)}")
        else:
            problem = _check_row(ptype, dict(zip(names, values, strict=True)), times)
        if problem is not None:
            errors.append(f"{source}:{number}: {problem}")
        elif names is not None:
            rows[ptype].append(tuple(values))
    if errors:
        more = f" (and {len(errors) - _MAX_ERRORS} more)" if len(errors) > _MAX_ERRORS else ""
        raise RuleError("; ".join(errors[:_MAX_ERRORS]) + more)
    patterns = {
        text: compile_pattern(text)
        for ptype, table in rows.items() for row in table
        for key, text in zip(FIELDS[ptype], row, strict=True) if key in ("obj", "act", "ent")
    }
    return RuleSet(
        rows=MappingProxyType({ptype: tuple(table) for ptype, table in rows.items()}),
        patterns=MappingProxyType(patterns),
        times=MappingProxyType(times),
    )
