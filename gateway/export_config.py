"""Configuration of export control (part of ``Config``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.pii_config import compiled_patterns

__all__ = ["BaselineConfig", "ExportConfig"]


class BaselineConfig(BaseModel):
    """The per-user daily volume baseline (``exports.baseline``): alerts, never blocks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    days: int = Field(14, ge=1, le=366)
    k: float = Field(6.0, gt=0)
    min_records: int = Field(1000, ge=1)
    flush_seconds: float = Field(5.0, gt=0)


class ExportConfig(BaseModel):
    """``window_records`` per user within ``window_seconds`` (None: off) counts as an export;
    ``watermark`` marks every approved export so that ``dlp-gateway trace`` finds it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_records: int = Field(100, ge=1)
    routes: list[str] = []
    approval_header: str = "X-DLP-Approval"
    approval_url: str = "/_dlp/approvals"
    store_path: str = "approvals.sqlite3"
    window_records: int | None = Field(2000, ge=1)
    window_seconds: float = Field(3600.0, gt=0)
    watermark: bool = True
    baseline: BaselineConfig = BaselineConfig()

    @field_validator("routes")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        return compiled_patterns(value)
