"""Configuration of the brute-force guard (part of ``Config``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LoginRoute", "RateGuardConfig"]


class LoginRoute(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(pattern=r"^/")
    method: str = "POST"
    username_field: str = "username"


class RateGuardConfig(BaseModel):
    """Failed logins counted per client IP and per account over a sliding window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    login_routes: list[LoginRoute] = [LoginRoute(path="/login")]
    failure_statuses: list[int] = [401, 403]
    window_seconds: float = Field(600.0, gt=0)
    max_failures_per_ip: int = Field(20, ge=1)
    max_failures_per_account: int = Field(10, ge=1)
    max_accounts_per_ip: int = Field(10, ge=1)
    daily_cap_per_ip: int = Field(1000, ge=1)
    ban_seconds: list[float] = [60.0, 600.0, 3600.0, 86400.0]
