"""The ``auth:`` configuration section, validated into frozen models.

Secrets (``jwt.hs_secret``, ``api_keys.pepper``, a demo key) are ``SecretStr`` so that
printing or logging the configuration never shows them; give them with ``${ENV}``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    field_validator,
    model_validator,
)

__all__ = [
    "JWT_ALGORITHMS",
    "ApiKeySettings",
    "AuthMethod",
    "AuthSettings",
    "ClaimsMapping",
    "JwtAlgorithm",
    "JwtSettings",
    "PublicPath",
    "StaticApiKey",
    "TrustedHeaderSettings",
]

AuthMethod = Literal["jwt", "api_key", "trusted_header"]
JwtAlgorithm = Literal[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "HS256", "HS384", "HS512",
]
JWT_ALGORITHMS: tuple[str, ...] = get_args(JwtAlgorithm)
_HEADER_NAME = r"^[A-Za-z0-9-]{1,64}$"
_NAME = r"^[A-Za-z0-9_.@-]{1,64}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClaimsMapping(_Model):
    """Where the principal is found in the token; dotted paths reach nested claims."""

    user: str = Field("sub", min_length=1)
    roles: str = Field("roles", min_length=1)
    tenants: str = Field("tenants", min_length=1)


class JwtSettings(_Model):
    issuer: str = Field(min_length=1)
    audience: str | list[str]
    leeway_seconds: float = Field(30.0, ge=0, le=300)
    jwks_path: str | None = None
    public_key_pem: str | None = None
    hs_secret: SecretStr | None = Field(None, min_length=32)
    algorithms: list[JwtAlgorithm] = Field(["RS256", "ES256", "HS256"], min_length=1)
    claims: ClaimsMapping = ClaimsMapping()
    max_token_bytes: int = Field(8192, ge=256, le=65536)

    @field_validator("audience")
    @classmethod
    def _audience_present(cls, value: str | list[str]) -> str | list[str]:
        if not value or (isinstance(value, list) and not all(value)):
            raise ValueError("must name at least one audience")
        return value

    @model_validator(mode="after")
    def _one_key_source(self) -> JwtSettings:
        if not (self.jwks_path or self.public_key_pem or self.hs_secret):
            raise ValueError("give at least one of jwks_path, public_key_pem, hs_secret")
        return self


class StaticApiKey(_Model):
    """A key fixed in the config: its HMAC ``hash`` or, for demos only, the plain ``key``.

    ``name`` is a label that may be logged; never make it the key itself.
    """

    name: str = Field(pattern=_NAME)
    user: str = Field(min_length=1, max_length=256)
    roles: list[str] = []
    tenants: list[str] = []
    hash: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    key: SecretStr | None = Field(None, min_length=8, max_length=256)
    demo: bool = False

    @model_validator(mode="after")
    def _hash_or_demo_key(self) -> StaticApiKey:
        if (self.hash is None) == (self.key is None):
            raise ValueError("give exactly one of hash or key")
        if self.key is not None and not self.demo:
            raise ValueError("a plain key is accepted only with demo: true; store its hash")
        if self.key is not None and self.key.get_secret_value() == self.name:
            raise ValueError("the name is logged, so it must differ from the key")
        return self


class ApiKeySettings(_Model):
    header: str = Field("X-API-Key", pattern=_HEADER_NAME)
    store_path: str | None = "apikeys.sqlite3"
    pepper: SecretStr = Field(min_length=16)
    static: list[StaticApiKey] = []

    @field_validator("static")
    @classmethod
    def _unique_names(cls, value: list[StaticApiKey]) -> list[StaticApiKey]:
        names = [entry.name for entry in value]
        if len(set(names)) != len(names):
            raise ValueError("static key names must be unique")
        return value


class TrustedHeaderSettings(_Model):
    user_header: str = Field("X-Forwarded-User", pattern=_HEADER_NAME)
    roles_header: str = Field("X-Forwarded-Roles", pattern=_HEADER_NAME)
    tenants_header: str = Field("X-Forwarded-Tenants", pattern=_HEADER_NAME)
    proxy_cidrs: list[IPvAnyNetwork] = Field(min_length=1)

    @field_validator("proxy_cidrs")
    @classmethod
    def _no_catch_all(cls, value: list[IPvAnyNetwork]) -> list[IPvAnyNetwork]:
        if any(net.prefixlen == 0 for net in value):
            raise ValueError("a /0 network would trust every client; list the proxies")
        return value

    @model_validator(mode="after")
    def _distinct_headers(self) -> TrustedHeaderSettings:
        names = {self.user_header.lower(), self.roles_header.lower(),
                 self.tenants_header.lower()}
        if len(names) != 3:
            raise ValueError("the three header names must differ")
        return self


def _path_shorthand(value: Any) -> Any:
    return {"path": value} if isinstance(value, str) else value


class PublicPath(_Model):
    """``/api/health`` matches exactly; ``/static/*`` matches everything under ``/static/``."""

    path: str
    methods: list[str] = []
    routes: list[str] = []

    @field_validator("path")
    @classmethod
    def _path_shape(cls, value: str) -> str:
        if not value.startswith("/") or "*" in value[:-1]:
            raise ValueError("must start with / and may only end with *")
        return value

    @field_validator("methods")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        return [method.upper() for method in value]

    def matches(self, method: str, path: str, route: str) -> bool:
        if self.methods and method not in self.methods:
            return False
        if self.routes and route not in self.routes:
            return False
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path == self.path


class AuthSettings(_Model):
    methods: list[AuthMethod] = Field(min_length=1)
    realm: str = Field("dlp-gateway", pattern=r"^[A-Za-z0-9 ._-]{1,64}$")
    jwt: JwtSettings | None = None
    api_keys: ApiKeySettings | None = None
    trusted_header: TrustedHeaderSettings | None = None
    public_paths: list[Annotated[PublicPath, BeforeValidator(_path_shorthand)]] = []
    forward_credentials: bool = False

    @model_validator(mode="after")
    def _sections_for_methods(self) -> AuthSettings:
        if len(set(self.methods)) != len(self.methods):
            raise ValueError("methods: each method may appear once")
        sections = {"jwt": self.jwt, "api_key": self.api_keys,
                    "trusted_header": self.trusted_header}
        missing = [m for m in self.methods if sections[m] is None]
        if missing:
            names = {"jwt": "jwt", "api_key": "api_keys", "trusted_header": "trusted_header"}
            raise ValueError(
                "methods lists " + ", ".join(missing) + " but the section "
                + ", ".join(names[m] for m in missing) + " is missing"
            )
        return self

