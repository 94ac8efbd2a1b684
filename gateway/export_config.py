"""Configuration of export control (part of ``Config``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.pii_config import compiled_patterns

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
    def _compiles(cls, value: list[str]) -> list[str]:
        return compiled_patterns(value)
