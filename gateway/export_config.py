"""Configuration of export control (part of ``Config``)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ExportConfig"]


class ExportConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_records: int = Field(100, ge=1)
    routes: list[str] = []
    approval_header: str = "X-DLP-Approval"
    approval_url: str = "/_dlp/approvals"
    store_path: str = "approvals.sqlite3"

    @field_validator("routes")
    @classmethod
    def _anchored(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"route pattern {pattern!r} does not compile: {exc}") from None
        return value
