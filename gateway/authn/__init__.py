"""Authentication: JWT bearer tokens, API keys and trusted-proxy headers → ``Principal``.

Each method is one :class:`Authenticator`; ``gateway.stages.authn.AuthnStage`` tries the
configured ones in order. Credentials never leave this package: only the resulting
:class:`~gateway.exchange.Principal` (user, roles, tenants, method) does.
"""

from gateway.authn.apikeys import (
    KEY_PREFIX,
    ApiKeyAuthenticator,
    ApiKeyRecord,
    ApiKeyStore,
    generate_api_key,
    hash_api_key,
    parse_api_key,
)
from gateway.authn.authenticator import Authenticator, AuthError
from gateway.authn.jwt_auth import JwtAuthenticator, VerificationKey, load_verification_keys
from gateway.authn.settings import (
    ApiKeySettings,
    AuthSettings,
    ClaimsMapping,
    JwtSettings,
    PublicPath,
    StaticApiKey,
    TrustedHeaderSettings,
)
from gateway.authn.trusted_header import TrustedHeaderAuthenticator

__all__ = [
    "KEY_PREFIX",
    "ApiKeyAuthenticator",
    "ApiKeyRecord",
    "ApiKeySettings",
    "ApiKeyStore",
    "AuthError",
    "AuthSettings",
    "Authenticator",
    "ClaimsMapping",
    "JwtAuthenticator",
    "JwtSettings",
    "PublicPath",
    "StaticApiKey",
    "TrustedHeaderAuthenticator",
    "TrustedHeaderSettings",
    "VerificationKey",
    "generate_api_key",
    "hash_api_key",
    "load_verification_keys",
    "parse_api_key",
]
