"""Configuration of detection, masking and per-route inspection (part of ``Config``)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

__all__ = [
    "DetectionConfig",
    "InspectionConfig",
    "MaskingConfig",
    "RecognizerConfig",
    "compiled_patterns",
]


def _size(value: object) -> int:
    from gateway.config import parse_size

    return parse_size(value)


Size = Annotated[int, BeforeValidator(_size)]


def compiled_patterns(value: list[str]) -> list[str]:
    """Validator: every regular expression compiles (the error names the pattern)."""
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"pattern {pattern!r} does not compile: {exc}") from None
    return value
Rule = str | dict[str, Any]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecognizerConfig(_Model):
    """A user recognizer, the Presidio way: regex patterns, a deny-list, or a class."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,60}$")
    entity: str = Field(pattern=r"^[A-Z][A-Z0-9_]{1,40}$")
    patterns: list[str] = []
    score: float = Field(0.8, gt=0, le=1)
    deny_list: list[str] = []
    context: list[str] = []
    class_path: str | None = Field(None, alias="class")

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        return compiled_patterns(value)


class DetectionConfig(_Model):
    entities: list[str] | None = None
    hints: dict[str, str] = {}
    zh_ner: bool = True
    en_ner: bool = True
    en_ner_model: str | None = None
    recognizers: list[RecognizerConfig] = []
    inline_bytes: Size = 64 * 1024
    timeout_seconds: float = Field(10.0, gt=0)


class MaskingConfig(_Model):
    rules: dict[str, Rule] = {}
    roles: dict[str, dict[str, Rule]] = {}
    encrypt_key: str | None = None

    @field_validator("encrypt_key")
    @classmethod
    def _aes_key(cls, value: str | None) -> str | None:
        if value is not None and len(value.encode()) not in (16, 24, 32):
            raise ValueError("must be 16, 24 or 32 bytes (AES-128/192/256)")
        return value


class InspectionConfig(_Model):
    """Per-route inspection behaviour; the defaults fail closed."""

    enabled: bool = True
    expect_pii: bool = True
    unknown_types: Literal["block", "pass"] = "pass"
    oversize: Literal["block", "pass"] = "block"
    parse_errors: Literal["text", "block"] = "text"
    max_body_bytes: Size | None = None
