"""Masking rules: which operator each entity gets, by default and per role.

A rule is ``{operator: NAME, ...params}`` or just the operator name. Roles layer on top
of the defaults; when a caller holds several roles, the most revealing rule wins
(``keep`` > ``encrypt`` > anything else), because rights are granted, never subtracted.
``"*"`` in a role's table applies to every entity that role does not name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from detectors.operators import OperatorSpec

__all__ = ["DEFAULT_RULES", "MaskingPolicy", "spec_from"]


def spec_from(value: str | Mapping[str, Any]) -> OperatorSpec:
    if isinstance(value, str):
        return OperatorSpec(value)
    params = dict(value)
    name = params.pop("operator", None)
    if not isinstance(name, str):
        raise ValueError("a masking rule needs an 'operator'")
    return OperatorSpec(name, MappingProxyType(params))


def _partial(first: int, last: int) -> OperatorSpec:
    return OperatorSpec("partial", MappingProxyType({"keep_first": first, "keep_last": last}))


DEFAULT_RULES: Mapping[str, OperatorSpec] = MappingProxyType({
    "CN_MOBILE": OperatorSpec("mobile"),
    "CN_LANDLINE": _partial(4, 2),
    "PHONE_NUMBER": _partial(0, 4),
    "CN_RESIDENT_ID": _partial(6, 4),
    "CN_BANK_CARD": _partial(6, 4),
    "CREDIT_CARD": _partial(6, 4),
    "BANK_ACCOUNT": _partial(0, 4),
    "IBAN_CODE": _partial(4, 4),
    "US_SSN": _partial(0, 4),
    "CN_USCC": _partial(6, 4),
    "CN_PASSPORT": _partial(1, 3),
    "CN_TRAVEL_PERMIT": _partial(1, 3),
    "ID_NUMBER": _partial(0, 4),
    "PERSON": OperatorSpec("name"),
    "EMAIL_ADDRESS": OperatorSpec("email"),
    "CN_ADDRESS": OperatorSpec("address"),
    "LOCATION": OperatorSpec("address"),
    "SECRET": OperatorSpec("replace", MappingProxyType({"new_value": "******"})),
})
_RANK = {"keep": 3, "encrypt": 2}


class MaskingPolicy:
    def __init__(
        self,
        defaults: Mapping[str, OperatorSpec] = DEFAULT_RULES,
        roles: Mapping[str, Mapping[str, OperatorSpec]] | None = None,
    ) -> None:
        self._defaults = dict(defaults)
        self._roles = {role: dict(table) for role, table in (roles or {}).items()}
        self._cache: dict[tuple[str, ...], dict[str, OperatorSpec]] = {}

    def rule(self, entity: str, roles: Iterable[str] = ()) -> OperatorSpec:
        key = tuple(sorted(set(roles)))
        table = self._cache.get(key)
        if table is None:
            table = self._cache[key] = {}
        spec = table.get(entity)
        if spec is None:
            spec = table[entity] = self._resolve(entity, key)
        return spec

    def _resolve(self, entity: str, roles: tuple[str, ...]) -> OperatorSpec:
        base = self._defaults.get(entity) or OperatorSpec(
            "replace", MappingProxyType({"new_value": f"<{entity}>"})
        )
        if entity == "SECRET":
            return base
        candidates = []
        for role in roles:
            table = self._roles.get(role, {})
            spec = table.get(entity) or table.get("*")
            if spec is not None:
                candidates.append(spec)
        if not candidates:
            return base
        return max(candidates, key=lambda s: _RANK.get(s.operator, 0))

    def entities(self) -> tuple[str, ...]:
        return tuple(self._defaults)

