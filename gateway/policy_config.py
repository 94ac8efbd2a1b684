"""Configuration of the access policy (part of ``Config``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

from policies.access import DEFAULT_TENANT_PATTERNS

__all__ = ["PolicyConfig"]


class PolicyConfig(BaseModel):
    """Files default to the packaged demo policy (``policies/casbin/``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = None
    policy: str | None = None
    grouping: str | None = None
    tenant_patterns: tuple[str, ...] = DEFAULT_TENANT_PATTERNS
    tenant_query: str | None = "project"
    approval_url: str = "/_dlp/approvals"

    @field_validator("tenant_patterns")
    @classmethod
    def _one_placeholder(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            if pattern.count("{") != 1 or not pattern.startswith("/"):
                raise ValueError(f"{pattern!r} must start with / and hold one {{placeholder}}")
        return value
