"""Golden tables: expected decisions for a policy, run as tests and by ``policy test``.

A table is YAML::

    now: "2026-06-01T00:00:00Z"        # optional clock for every case
    policy: {model: m.conf, policy: p.csv, grouping: g.csv}   # optional, relative paths
    cases:
      - {subject: alice, roles: [], tenant: proj1, method: GET,
         path: /api/projects/proj1/customers, expected: allow}
      - {subject: alice, tenant: proj1, entity: CN_MOBILE, expected: unmask}

Route cases expect ``allow``, ``deny`` or ``approval_required``; entity cases ``unmask`` or
``mask``. Without ``tenant`` the tenant is taken from the path (default patterns); ``tenant:
null`` means none. ``at`` overrides ``now`` for one case; ``note`` is free text.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from gateway.paths import PathError
from policies.access import (
    AccessPolicy,
    PolicyError,
    PolicyFiles,
    canonical_for_policy,
    tenant_from_path,
)

__all__ = ["GoldenCase", "GoldenError", "GoldenFailure", "GoldenTable", "load_golden",
           "run_golden"]

_ROUTE = ("allow", "deny", "approval_required")
_FIELD = ("unmask", "mask")
_KEYS = frozenset({"subject", "roles", "tenant", "method", "path", "entity", "expected", "at",
                   "note"})
_UNSET = object()


class GoldenError(ValueError):
    """The golden table itself is malformed."""


@dataclass(frozen=True, slots=True)
class GoldenCase:
    index: int
    subject: str
    roles: tuple[str, ...]
    tenant: str | None
    method: str
    path: str
    entity: str
    expected: str
    at: float | None
    note: str

    def describe(self) -> str:
        target = f"unmask {self.entity}" if self.entity else f"{self.method} {self.path}"
        roles = f" roles={list(self.roles)}" if self.roles else ""
        return f"#{self.index} {self.subject}{roles} tenant={self.tenant} {target}"


@dataclass(frozen=True, slots=True)
class GoldenTable:
    cases: tuple[GoldenCase, ...]
    now: float | None
    files: PolicyFiles | None


@dataclass(frozen=True, slots=True)
class GoldenFailure:
    case: GoldenCase
    actual: str
    rule: tuple[str, ...]
    reason: str

    def describe(self) -> str:
        note = f" ({self.case.note})" if self.case.note else ""
        return (f"{self.case.describe()}: expected {self.case.expected}, got {self.actual}"
                f"{note}; rule={list(self.rule)} reason={self.reason}")


def _time(value: Any, where: str) -> float | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
    if moment is None or moment.tzinfo is None:
        raise GoldenError(f"{where}: time {value!r} must be ISO 8601 with a UTC offset")
    return moment.timestamp()


def _tenant(path: str) -> str | None:
    try:
        return tenant_from_path(canonical_for_policy(path)) if path else None
    except PathError:
        return None


def _case(index: int, row: Any) -> GoldenCase:
    where = f"case #{index}"
    if not isinstance(row, Mapping) or not _KEYS.issuperset(row) or "subject" not in row:
        raise GoldenError(f"{where}: a mapping with subject and only {sorted(_KEYS)}")
    entity, path = str(row.get("entity") or ""), str(row.get("path") or "")
    expected = str(row.get("expected"))
    if expected not in (_FIELD if entity else _ROUTE) or bool(entity) == bool(path):
        raise GoldenError(f"{where}: needs a path (allow|deny|approval_required) or an "
                          f"entity (unmask|mask), got expected={expected!r}")
    tenant = row.get("tenant", _UNSET)
    if tenant is _UNSET:
        tenant = _tenant(path)
    roles = row.get("roles") or []
    if not isinstance(roles, list):
        raise GoldenError(f"{where}: roles must be a list")
    return GoldenCase(index, str(row["subject"]), tuple(str(r) for r in roles),
                      None if tenant is None else str(tenant), str(row.get("method", "GET")),
                      path, entity, expected, _time(row.get("at"), where),
                      str(row.get("note") or ""))


def load_golden(path: str | Path) -> GoldenTable:
    """Read and validate a golden table; raise GoldenError if it is malformed."""
    source = Path(path)
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise GoldenError(f"cannot read {source}: {exc}") from exc
    if not isinstance(data, Mapping) or not isinstance(data.get("cases"), list):
        raise GoldenError(f"{source}: expected a mapping with a 'cases' list")
    files = None
    named = data.get("policy")
    if isinstance(named, Mapping):
        base = source.parent
        grouping = named.get("grouping")
        files = PolicyFiles(base / str(named["model"]), base / str(named["policy"]),
                            base / str(grouping) if grouping else None)
    cases = tuple(_case(i, row) for i, row in enumerate(data["cases"], start=1))
    return GoldenTable(cases, _time(data.get("now"), str(source)), files)


class _TableClock:
    def __init__(self) -> None:
        self.at: float | None = None

    def __call__(self) -> float:
        return self.at if self.at is not None else time.time()


def _actual(policy: AccessPolicy, case: GoldenCase) -> tuple[str, tuple[str, ...], str]:
    if case.entity:
        unmask = policy.may_unmask(case.subject, case.roles, case.tenant, case.entity)
        return ("unmask" if unmask else "mask"), (), ""
    decision = policy.decide(case.subject, case.roles, case.tenant, case.method, case.path)
    return decision.outcome, decision.rule, decision.reason


def run_golden(table: GoldenTable | str | Path, files: PolicyFiles | None = None,
               ) -> list[GoldenFailure]:
    """Run every case against ``files`` (else the table's policy); return the failures."""
    if not isinstance(table, GoldenTable):
        table = load_golden(table)
    chosen = files or table.files
    if chosen is None:
        raise GoldenError("no policy files given and the table names none")
    clock = _TableClock()
    policy = AccessPolicy.from_files(*chosen, clock=clock)
    failures: list[GoldenFailure] = []
    for case in table.cases:
        clock.at = case.at if case.at is not None else table.now
        try:
            actual, rule, reason = _actual(policy, case)
        except PolicyError as exc:
            actual, rule, reason = "error", (), str(exc)
        if actual != case.expected:
            failures.append(GoldenFailure(case, actual, rule, reason))
    return failures
