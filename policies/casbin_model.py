"""Checks a Casbin model text before it is used: tokens, effect and what matchers may call.

The access code builds requests and registers matcher functions for one shape of model,
so a model with other tokens would fail at enforce time (an outage) or, worse, evaluate
something else. Matchers may only compare tokens and string constants and call the
registered functions; ``eval()`` (policy rows as code) is therefore refused too.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["ALLOW_AND_DENY", "FUNCTIONS", "MATCHERS", "REQUESTS", "check_model"]

ALLOW_AND_DENY = "some(where (p_eft == allow)) && !some(where (p_eft == deny))"
REQUESTS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "r": ("sub", "dom", "obj", "act"),
    "r2": ("sub", "dom", "ent"),
})
MATCHERS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "m": ("r", "p"), "m2": ("r2", "p2"), "m3": ("r", "p3"),
})
FUNCTIONS = frozenset({"holds", "reaches", "pathMatch", "fullMatch", "active"})
_LEAVES = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.Compare,
           ast.Eq, ast.NotEq, ast.Load, ast.Constant)


def _python(expression: str) -> str:
    text = expression.replace("&&", " and ").replace("||", " or ")
    return re.sub(r"!(?!=)", " not ", text)


def _check_matcher(key: str, expression: str, tokens: frozenset[str]) -> str | None:
    try:
        tree = ast.parse(_python(expression), mode="eval")
    except SyntaxError as exc:
        return f"matcher {key} does not parse: {exc.msg}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else "?"
            if name not in FUNCTIONS or node.keywords:
                return f"matcher {key} calls {name}(); allowed: {', '.join(sorted(FUNCTIONS))}"
        elif isinstance(node, ast.Name):
            if node.id not in tokens and node.id not in FUNCTIONS:
                return f"matcher {key} uses {node.id!r}, not a token of its request or policy"
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, str):
                return f"matcher {key} has a non-string constant {node.value!r}"
        elif not isinstance(node, _LEAVES):
            return f"matcher {key} uses a {type(node).__name__} expression"
    return None


def _tokens(model: Any, sec: str, key: str) -> tuple[str, ...] | None:
    assertion = model.model.get(sec, {}).get(key)
    if assertion is None:
        return None
    return tuple(token.removeprefix(key + "_") for token in assertion.tokens)


def check_model(model: Any, policy_fields: Mapping[str, tuple[str, ...]]) -> None:
    """Raise ValueError unless ``model`` (a parsed casbin Model) has the expected shape."""
    expected: dict[tuple[str, str], tuple[str, ...]] = {
        ("r", key): tokens for key, tokens in REQUESTS.items()
    }
    expected.update({("p", k): v for k, v in policy_fields.items() if k != "g"})
    for (sec, key), tokens in expected.items():
        found = _tokens(model, sec, key)
        if found != tokens:
            raise ValueError(f"model {key} must be '{', '.join(tokens)}', found {found}")
    grouping = model.model.get("g", {}).get("g")
    if grouping is None or len(grouping.tokens) != 3 or grouping.params_tokens:
        raise ValueError("model needs role_definition g = _, _, _ (no conditions)")
    effect = model.model.get("e", {}).get("e")
    if effect is None or effect.value != ALLOW_AND_DENY:
        raise ValueError("policy_effect e must be allow-and-deny (default deny, deny wins)")
    for key, (rtype, ptype) in MATCHERS.items():
        matcher = model.model.get("m", {}).get(key)
        if matcher is None:
            raise ValueError(f"model has no matcher {key}")
        names = frozenset(f"{rtype}_{t}" for t in REQUESTS[rtype]) | frozenset(
            f"{ptype}_{t}" for t in policy_fields[ptype])
        problem = _check_matcher(key, matcher.value, names)
        if problem is not None:
            raise ValueError(problem)
