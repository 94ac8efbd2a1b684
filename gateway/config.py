"""Configuration: one YAML file, validated at start-up into frozen models.

Secrets may come from the environment: ``${NAME}`` (or ``${NAME:-default}``) inside any
string value is expanded, and ``DLPGW_<SECTION>__<KEY>`` overrides a key directly
(``DLPGW_SECRETS__HMAC_KEY``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from gateway.authn.settings import AuthSettings
from gateway.export_config import ExportConfig
from gateway.incident_config import IncidentConfig
from gateway.pii_config import DetectionConfig, InspectionConfig, MaskingConfig
from gateway.policy_config import PolicyConfig
from gateway.rate_config import RateGuardConfig

__all__ = [
    "STAGE_NAMES",
    "AdminConfig",
    "AuditConfig",
    "Config",
    "ConfigError",
    "LimitsConfig",
    "ListenConfig",
    "RouteConfig",
    "SecretsConfig",
    "StoreConfig",
    "TimeoutsConfig",
    "UpstreamConfig",
    "load_config",
    "parse_config",
    "parse_size",
]

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2,
          "mib": 1024**2, "g": 1000**3, "gb": 1000**3, "gib": 1024**3}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
ENV_PREFIX = "DLPGW_"
STAGE_NAMES = ("metrics", "audit", "authn", "rate_guard", "authz", "export_guard",
               "leak_watch", "pii_mask")


class ConfigError(Exception):
    """The configuration is invalid; the message names the key and the problem."""


def parse_size(value: object) -> int:
    """``10MiB`` → 10485760. Integers pass through."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 10MiB")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("size must not be negative")
        return value
    if isinstance(value, str):
        match = _SIZE_RE.match(value)
        if match and match.group(2).lower() in _UNITS:
            return int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    raise ValueError(f"expected a size such as 10MiB, got {value!r}")


Size = Annotated[int, BeforeValidator(parse_size)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ListenConfig(_Model):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    grace_seconds: float = Field(30.0, gt=0)


class AdminConfig(_Model):
    prefix: str = "/_dlp/"

    @field_validator("prefix")
    @classmethod
    def _prefix_shape(cls, value: str) -> str:
        if not re.fullmatch(r"/[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*/?", value):
            raise ValueError("must be an absolute path such as /_dlp/")
        return value.rstrip("/") + "/"


class TimeoutsConfig(_Model):
    connect: float = Field(5.0, gt=0)
    read: float = Field(30.0, gt=0)
    total: float = Field(300.0, gt=0)


class UpstreamConfig(_Model):
    url: str
    timeouts: TimeoutsConfig = TimeoutsConfig()
    max_connections: int = Field(100, ge=1)

    @field_validator("url")
    @classmethod
    def _url_shape(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^/\s]+(/[^\s]*)?", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")


class RouteConfig(_Model):
    name: str = Field(pattern=r"^[a-z0-9_-]{1,40}$")
    prefix: str = "/"
    host: str | None = None
    upstream: str
    strip_prefix: bool = False
    preserve_host: bool = False
    inspection: InspectionConfig = InspectionConfig()

    @field_validator("prefix")
    @classmethod
    def _prefix_shape(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with /")
        return value


class LimitsConfig(_Model):
    request_body_bytes: Size = 10 * 1024**2
    decoded_body_bytes: Size = 256 * 1024**2
    max_decode_ratio: float = Field(200.0, gt=1)
    inspect_buffer_bytes: Size = 16 * 1024**2


class AuditConfig(_Model):
    """The hash-chained audit log in the shared database (``store.url``)."""

    signing_key: str | None = None
    checkpoint_seconds: float = Field(60.0, gt=0)
    checkpoint_entries: int = Field(10_000, ge=1)
    retention_days: int = 365
    prune_interval_seconds: float = Field(86_400.0, gt=0)
    queue_max: int = Field(100_000, ge=1)

    @field_validator("retention_days")
    @classmethod
    def _legal_minimum(cls, value: int) -> int:
        if value < 183:
            raise ValueError("must be at least 183 days: the law asks for 6 months of logs")
        return value


class StoreConfig(_Model):
    """Shared state: approvals, incidents, the audit chain (``url``) and counters."""

    url: str | None = None
    counters: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = Field("dlpgw:", min_length=1)
    policy: Literal["auto", "files", "database"] = "auto"
    policy_poll_seconds: float = Field(0.5, gt=0, le=2)

    def policy_in_database(self) -> bool:
        """``auto``: the policy is shared through the database when that is PostgreSQL."""
        if self.policy == "auto":
            return bool(self.url and self.url.startswith("postgresql"))
        return self.policy == "database"

    @field_validator("url")
    @classmethod
    def _url_shape(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite:///", "postgresql")):
            raise ValueError("must be sqlite:///PATH or postgresql+psycopg://...")
        return value


class SecretsConfig(_Model):
    hmac_key: str | None = Field(None, min_length=16)


class Config(_Model):
    listen: ListenConfig = ListenConfig()
    admin: AdminConfig = AdminConfig()
    state_dir: str = "./var"
    upstreams: dict[str, UpstreamConfig]
    routes: list[RouteConfig] = Field(min_length=1)
    limits: LimitsConfig = LimitsConfig()
    audit: AuditConfig = AuditConfig()
    store: StoreConfig = StoreConfig()
    incidents: IncidentConfig = IncidentConfig()
    secrets: SecretsConfig = SecretsConfig()
    auth: AuthSettings | None = None
    policy: PolicyConfig = PolicyConfig()
    exports: ExportConfig = ExportConfig()
    rate_guard: RateGuardConfig = RateGuardConfig()
    detection: DetectionConfig = DetectionConfig()
    masking: MaskingConfig = MaskingConfig()
    stages: list[str] = ["metrics", "audit", "pii_mask"]
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("stages")
    @classmethod
    def _known_stages(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in STAGE_NAMES]
        if unknown:
            raise ValueError(
                f"unknown stage(s) {', '.join(unknown)}; available: {', '.join(STAGE_NAMES)}"
            )
        return value

    @model_validator(mode="after")
    def _cross_refs(self) -> Config:
        for index, route in enumerate(self.routes):
            if route.upstream not in self.upstreams:
                raise ValueError(
                    f"routes[{index}].upstream: upstream {route.upstream!r} is not defined "
                    f"(known: {', '.join(sorted(self.upstreams)) or 'none'})"
                )
            if route.prefix.startswith(self.admin.prefix.rstrip("/")):
                raise ValueError(f"routes[{index}].prefix: overlaps the admin prefix")
        if "authn" in self.stages and self.auth is None:
            raise ValueError("auth: the authn stage is enabled but no auth section is set")
        names = [route.name for route in self.routes]
        if len(set(names)) != len(names):
            raise ValueError("routes: route names must be unique")
        return self

    def database_url(self) -> str:
        """``store.url``, or the embedded SQLite file in the state directory."""
        if self.store.url:
            return self.store.url
        return f"sqlite:///{self.state_path('dlpgw.db').resolve()}"

    def state_path(self, name: str) -> Path:
        path = Path(name)
        return path if path.is_absolute() else Path(self.state_dir) / path


def _expand_env(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        def repl(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise ConfigError(f"environment variable {name} is referenced but not set")
        return _ENV_RE.sub(repl, value)
    if isinstance(value, dict):
        return {k: _expand_env(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, env) for v in value]
    return value


def _apply_overrides(data: dict[str, Any], env: Mapping[str, str]) -> None:
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX):].split("__")]
        node = data
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{name}: {'.'.join(keys)} is not a section")
            node = child
        node[keys[-1]] = value


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def parse_config(data: Any, env: Mapping[str, str] | None = None) -> Config:
    if not isinstance(data, dict):
        raise ConfigError("config: the top level must be a mapping")
    env = os.environ if env is None else env
    expanded = _expand_env(data, env)
    _apply_overrides(expanded, env)
    try:
        return Config.model_validate(expanded)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = str(err["msg"]).removeprefix("Value error, ")
            loc = _loc(tuple(err["loc"]))
            problems.append(msg if msg.startswith(loc) or not err["loc"] else f"{loc}: {msg}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from None


def _relative_to(config: Config, base: Path) -> Config:
    """Policy files named relatively are found next to the config file."""
    updates = {
        key: str(base / value)
        for key in ("model", "policy", "grouping")
        if (value := getattr(config.policy, key)) and not Path(value).is_absolute()
    }
    if not updates:
        return config
    return config.model_copy(update={"policy": config.policy.model_copy(update=updates)})


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    return _relative_to(parse_config(data, env), Path(path).resolve().parent)
