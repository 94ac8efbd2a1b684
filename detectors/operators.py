"""Masking operators in local conventions, as Presidio anonymizer operators.

They plug into ``presidio_anonymizer.AnonymizerEngine.add_anonymizer`` like any other
operator, and the fast path calls ``operate`` directly. Defaults follow the team's
conventions: ``138****1234``, ``110105********1234``, ``622202******1234``, ``李**``,
``d**@126.com``, ``北京市海淀区****``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from presidio_anonymizer.operators import Operator, OperatorType

__all__ = [
    "AddressMask",
    "EmailMask",
    "KeyedHash",
    "MaskingRules",
    "MobileMask",
    "NameMask",
    "OperatorSpec",
    "PartialMask",
    "build_operators",
    "partial_mask",
]

_CJK = re.compile(r"[\u3400-\u9fff]")
_NON_DIGIT = re.compile(r"\D")
_CC_PREFIX = re.compile(r"^\s*(?:\(?(?:\+|00)?86\)?[\s-]?)")
_ADMIN_DIVISIONS = re.compile(
    r"^(?:[\u4e00-\u9fff]{2,8}?(?:省|自治区|特别行政区))?"
    r"(?:[\u4e00-\u9fff]{1,10}?(?:市|自治州|地区|盟|州))?"
    r"(?:[\u4e00-\u9fff]{1,10}?(?:区|县|旗|市))?"
)


@dataclass(frozen=True, slots=True)
class OperatorSpec:
    """An operator name and its parameters, as a masking rule names them."""

    operator: str
    params: Mapping[str, Any] = field(default_factory=dict)


class MaskingRules(Protocol):
    """Where the engine asks which operator masks an entity for a caller's roles."""

    def rule(self, entity: str, roles: Iterable[str] = ()) -> OperatorSpec: ...


def partial_mask(text: str, keep_first: int, keep_last: int, char: str = "*") -> str:
    """Mask letters and digits, keeping ``keep_first`` and ``keep_last`` of them.

    Separators (spaces, dashes) stay where they are, so the shape is kept. At least a
    third of the characters are always masked, whatever the keep counts say.
    """
    if text.isalnum():
        total = len(text)
        keep_first, keep_last = _fit(total, keep_first, keep_last)
        hidden = total - keep_first - keep_last
        return text[:keep_first] + char * hidden + text[total - keep_last:]
    positions = [i for i, c in enumerate(text) if c.isalnum()]
    total = len(positions)
    if total == 0:
        return text
    keep_first, keep_last = _fit(total, keep_first, keep_last)
    chars = list(text)
    for i in positions[keep_first : total - keep_last]:
        chars[i] = char
    return "".join(chars)


def _fit(total: int, keep_first: int, keep_last: int) -> tuple[int, int]:
    while total - keep_first - keep_last < -(-total // 3) and (keep_first or keep_last):
        if keep_first >= keep_last and keep_first:
            keep_first -= 1
        else:
            keep_last -= 1
    return keep_first, keep_last


class _Base(Operator):
    name = ""

    def operator_name(self) -> str:
        return self.name

    def operator_type(self) -> OperatorType:
        return OperatorType.Anonymize

    def validate(self, params: dict[str, Any] | None = None) -> None:
        return None


class PartialMask(_Base):
    """``partial``: keep the first and last N letters/digits (params keep_first, keep_last)."""

    name = "partial"

    def operate(self, text: str, params: dict[str, Any] | None = None) -> str:
        p = params or {}
        return partial_mask(text, int(p.get("keep_first", 0)), int(p.get("keep_last", 4)),
                            str(p.get("char", "*")))


class MobileMask(_Base):
    """``mobile``: ``138****1234``; a +86 prefix is kept as written."""

    name = "mobile"

    def operate(self, text: str, params: dict[str, Any] | None = None) -> str:
        prefix_match = _CC_PREFIX.match(text) if len(_NON_DIGIT.sub("", text)) > 11 else None
        prefix = prefix_match.group(0) if prefix_match else ""
        return prefix + partial_mask(text[len(prefix):], 3, 4)


class NameMask(_Base):
    """``name``: ``李**`` for Chinese names, ``J*** S****`` for Latin ones."""

    name = "name"

    def operate(self, text: str, params: dict[str, Any] | None = None) -> str:
        stripped = text.strip()
        if _CJK.search(stripped):
            return stripped[:1] + "*" * max(len(stripped) - 1, 1)
        return " ".join(tok[:1] + "*" * max(len(tok) - 1, 1) for tok in stripped.split())


class EmailMask(_Base):
    """``email``: ``d**@126.com``."""

    name = "email"

    def operate(self, text: str, params: dict[str, Any] | None = None) -> str:
        local, at, domain = text.rpartition("@")
        if not at:
            return partial_mask(text, 1, 0)
        return local[:1] + "**@" + domain


class AddressMask(_Base):
    """``address``: keep province, city and district (``北京市海淀区****``).

    Latin addresses keep their last two comma-separated parts (city, state/zip).
    """

    name = "address"

    def operate(self, text: str, params: dict[str, Any] | None = None) -> str:
        if _CJK.search(text):
            kept = _ADMIN_DIVISIONS.match(text)
            head = kept.group(0) if kept else ""
            return head + "****"
        parts = [p.strip() for p in text.split(",")]
        if len(parts) >= 3:
            return "****, " + ", ".join(parts[-2:])
        return "****"


class KeyedHash(_Base):
    """``hmac``: a stable keyed pseudonym (params ``key``); Presidio's ``hash`` is salted."""

    name = "hmac"

    def validate(self, params: dict[str, Any] | None = None) -> None:
        key = (params or {}).get("key", "")
        if not isinstance(key, str | bytes) or len(key) < 16:
            raise ValueError("hmac operator needs a key of at least 16 characters")

    def operate(self, text: str, params: dict[str, Any] | None = None) -> str:
        key = (params or {})["key"]
        raw = key.encode() if isinstance(key, str) else key
        digest = hmac.new(raw, text.encode("utf-8"), hashlib.sha256).hexdigest()
        return "pseud:" + digest[: int((params or {}).get("length", 16))]


def build_operators() -> dict[str, Operator]:
    """Every operator a masking rule may name: ours plus Presidio's built-ins."""
    from presidio_anonymizer.operators import Encrypt, Keep, Mask, Redact, Replace

    operators: list[Operator] = [
        PartialMask(), MobileMask(), NameMask(), EmailMask(), AddressMask(), KeyedHash(),
        Encrypt(), Keep(), Mask(), Redact(), Replace(),
    ]
    return {op.operator_name(): op for op in operators}
