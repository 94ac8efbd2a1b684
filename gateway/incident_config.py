"""Configuration of incidents: deduplication, escalation thresholds, notification regimes,
webhooks and the PDF report's CJK font."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from reports.deadlines import Regimes

__all__ = ["IncidentConfig", "WebhookConfig"]


class WebhookConfig(BaseModel):
    """Signed webhooks on new incidents and on notification deadlines (off when no ``urls``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: list[str] = Field(default_factory=list)
    secret: SecretStr | None = None
    max_attempts: int = Field(6, ge=1, le=50)
    backoff_seconds: float = Field(5.0, gt=0)
    backoff_max_seconds: float = Field(900.0, gt=0)
    timeout_seconds: float = Field(10.0, gt=0)
    deadline_lead_seconds: float = Field(3600.0, ge=0)
    scan_interval_seconds: float = Field(30.0, gt=0)

    @model_validator(mode="after")
    def _signed(self) -> WebhookConfig:
        for url in self.urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"webhook url must be http(s): {url[:60]!r}")
        if self.urls and (self.secret is None or len(self.secret.get_secret_value()) < 16):
            raise ValueError("webhooks need a secret of at least 16 characters")
        return self


class IncidentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dedup_window_seconds: float = Field(3600.0, gt=0)
    denials_per_user: int = Field(20, ge=1)
    denials_window_seconds: float = Field(600.0, gt=0)
    pipl_hours: float = Field(1.0, gt=0)
    cac_hours: float = Field(4.0, gt=0)
    cac_large_subjects: int = Field(1_000_000, ge=1)
    cac_major_subjects: int = Field(10_000_000, ge=1)
    gdpr_hours: float = Field(72.0, gt=0)
    regimes_enabled: list[Literal["pipl", "cac", "gdpr"]] = ["pipl", "cac", "gdpr"]
    webhooks: WebhookConfig = WebhookConfig()
    report_cjk_font: str | None = None

    def regimes(self) -> Regimes:
        return Regimes(pipl_hours=self.pipl_hours, cac_hours=self.cac_hours,
                       cac_large_subjects=self.cac_large_subjects,
                       cac_major_subjects=self.cac_major_subjects,
                       gdpr_hours=self.gdpr_hours, enabled=tuple(self.regimes_enabled))
