"""JWT bearer tokens: ``Authorization: Bearer <jwt>`` → :class:`Principal`.

Algorithm confusion is prevented by binding algorithms to keys, never to tokens. Each
verification key gets the algorithms its *type* allows (RSA: RS*/PS*; EC: the ES*
matching its curve; an HMAC secret: HS*, only those whose digest is no longer than the
secret), intersected with ``jwt.algorithms`` from the config. PyJWT is then called per
key with ``algorithms=`` that list, so an HS256 token "signed" with the RSA public key
is refused (HS256 is never tied to an RSA key), and ``alg=none`` is never allowed. The
token's ``alg`` and ``kid`` only *select* candidate keys.

``exp`` (and ``iss``/``aud``) are required; ``nbf`` and ``iat`` are checked when
present; ``leeway_seconds`` absorbs clock skew. JWKS files must hold public keys only
and are read once at start (restart or reload to rotate).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import orjson
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from jwt.types import Options

from gateway.authn.authenticator import AuthError, check_user, drop_headers, split_names
from gateway.authn.settings import JwtSettings
from gateway.exchange import Exchange, Principal

__all__ = ["JwtAuthenticator", "VerificationKey", "key_algorithms", "load_verification_keys"]

log = logging.getLogger("dlpgw.authn.jwt")

_RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
_EC_ALGORITHMS = {"secp256r1": ("ES256",), "secp384r1": ("ES384",), "secp521r1": ("ES512",)}
_HS_MIN_BYTES = (("HS256", 32), ("HS384", 48), ("HS512", 64))
_MIN_RSA_BITS = 2048
_ERRORS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "expired_token"),
    (jwt.ImmatureSignatureError, "token_not_yet_valid"),
    (jwt.InvalidAudienceError, "wrong_audience"),
    (jwt.InvalidIssuerError, "wrong_issuer"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.exceptions.InvalidSubjectError, "bad_claim"),
    (jwt.InvalidAlgorithmError, "algorithm_not_allowed"),
    (jwt.DecodeError, "malformed_token"),
)


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A public key or HMAC secret with the only algorithms it may verify."""

    key: Any = field(repr=False)
    algorithms: tuple[str, ...]
    kid: str | None = None
    source: str = ""


def key_algorithms(key: object) -> tuple[str, ...]:
    """The algorithms a key's type allows; ``ValueError`` for weak or unknown keys."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < _MIN_RSA_BITS:
            raise ValueError(f"RSA keys must have at least {_MIN_RSA_BITS} bits")
        return _RSA_ALGORITHMS
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _EC_ALGORITHMS:
            raise ValueError(f"unsupported EC curve {key.curve.name}")
        return _EC_ALGORITHMS[key.curve.name]
    if isinstance(key, bytes):
        return tuple(alg for alg, size in _HS_MIN_BYTES if len(key) >= size)
    raise ValueError(f"unsupported key type {type(key).__name__}")


def _pem_key(pem: str) -> object:
    data = pem.strip().encode()
    if b"BEGIN CERTIFICATE" in data:
        return x509.load_pem_x509_certificate(data).public_key()
    return serialization.load_pem_public_key(data)


def _jwk_key(jwk: dict[str, Any]) -> object:
    if jwk.get("use", "sig") != "sig":
        raise ValueError("not a signing key")
    if jwk.get("kty") == "RSA":
        return RSAAlgorithm.from_jwk(jwk)
    if jwk.get("kty") == "EC":
        return ECAlgorithm.from_jwk(jwk)
    raise ValueError(f"unsupported kty {jwk.get('kty')!r}")


def _jwk_entry(entry: dict[str, Any]) -> VerificationKey:
    kid = entry.get("kid")
    key = _jwk_key(entry)
    algorithms = key_algorithms(key)
    if "alg" in entry:
        algorithms = tuple(alg for alg in algorithms if alg == entry["alg"])
    return VerificationKey(key, algorithms, kid if isinstance(kid, str) else None, f"jwks:{kid}")


def _jwks_keys(path: Path) -> list[VerificationKey]:
    """Public signing keys from a JWKS file; unusable entries are skipped with a warning."""
    document = orjson.loads(path.read_bytes())
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: not a JWKS document (no keys list)")
    keys: list[VerificationKey] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if "d" in entry or "p" in entry:
            raise ValueError(f"{path}: the JWKS holds private key material; publish public "
                             "keys only")
        try:
            keys.append(_jwk_entry(entry))
        except (ValueError, jwt.PyJWTError) as exc:
            log.warning("JWKS %s: skipped key %r: %s", path.name, entry.get("kid"), exc)
    return keys


def load_verification_keys(settings: JwtSettings) -> list[VerificationKey]:
    """Every configured key, each restricted to the configured algorithms it allows."""
    keys: list[VerificationKey] = []
    if settings.jwks_path:
        keys.extend(_jwks_keys(Path(settings.jwks_path)))
    if settings.public_key_pem:
        public = _pem_key(settings.public_key_pem)
        keys.append(VerificationKey(public, key_algorithms(public), None, "public_key_pem"))
    if settings.hs_secret:
        secret = settings.hs_secret.get_secret_value().encode()
        keys.append(VerificationKey(secret, key_algorithms(secret), None, "hs_secret"))
    allowed = set(settings.algorithms)
    usable = []
    for key in keys:
        algorithms = tuple(alg for alg in key.algorithms if alg in allowed)
        if not algorithms:
            if not key.source.startswith("jwks:"):
                raise ValueError(f"jwt: no configured algorithm fits the {key.source} key")
            log.warning("JWT key %s fits none of the configured algorithms", key.source)
            continue
        usable.append(VerificationKey(key.key, algorithms, key.kid, key.source))
    if not usable:
        raise ValueError("jwt: no usable verification key")
    return usable


def _claim(payload: dict[str, Any], path: str) -> object:
    if path in payload:
        return payload[path]
    node: object = payload
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _reason(exc: jwt.PyJWTError) -> str:
    for kind, reason in _ERRORS:
        if isinstance(exc, kind):
            return reason
    return "invalid_token"


class JwtAuthenticator:
    method = "jwt"

    def __init__(self, settings: JwtSettings, keys: Sequence[VerificationKey]) -> None:
        self._settings = settings
        self._keys = tuple(keys)
        self._algorithms = frozenset(alg for key in keys for alg in key.algorithms)
        required = ["exp", "iss", "aud"]
        self._options: Options = {"require": required, "enforce_minimum_key_length": True}

    @classmethod
    def from_settings(cls, settings: JwtSettings) -> JwtAuthenticator:
        return cls(settings, load_verification_keys(settings))

    async def authenticate(self, ex: Exchange) -> Principal | None:
        values = ex.request.headers.getall("Authorization", [])
        bearer = [v for v in values if v[:7].lower() == "bearer "]
        if not bearer:
            return None
        if len(values) > 1:
            raise AuthError("ambiguous_credentials", "invalid_request")
        return self.verify(bearer[0][7:].strip())

    def verify(self, token: str) -> Principal:
        """Check signature and claims; raise :class:`AuthError` with a fixed reason."""
        if len(token) > self._settings.max_token_bytes:
            raise AuthError("token_too_large")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed_token") from None
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise AuthError("algorithm_not_allowed")
        candidates = [key for key in self._keys if alg in key.algorithms
                      and (kid is None or key.kid is None or key.kid == kid)]
        if not candidates:
            raise AuthError("unknown_kid")
        return self._principal(self._decode(token, candidates))

    def _decode(self, token: str, candidates: list[VerificationKey]) -> dict[str, Any]:
        settings = self._settings
        for key in candidates:
            try:
                payload: dict[str, Any] = jwt.decode(
                    token, key.key, algorithms=list(key.algorithms), options=self._options,
                    audience=settings.audience, issuer=settings.issuer,
                    leeway=settings.leeway_seconds,
                )
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError as exc:
                raise AuthError(_reason(exc)) from None
            return payload
        raise AuthError("bad_signature")

    def _principal(self, payload: dict[str, Any]) -> Principal:
        mapping = self._settings.claims
        try:
            user = check_user(_claim(payload, mapping.user))
            roles = split_names(_claim(payload, mapping.roles))
            tenants = split_names(_claim(payload, mapping.tenants))
        except ValueError:
            raise AuthError("bad_claim") from None
        return Principal(user=user, roles=roles, tenants=tenants, auth_method=self.method)

    def strip(self, ex: Exchange, forward: bool) -> None:
        if not forward:
            drop_headers(ex, ("Authorization",))

    def challenge(self, realm: str, error: str | None) -> str | None:
        return f'Bearer realm="{realm}"' + (f', error="{error}"' if error else "")
