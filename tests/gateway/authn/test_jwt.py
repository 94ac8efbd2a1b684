from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic import ValidationError

from gateway.authn.authenticator import AuthError
from gateway.authn.jwt_auth import JwtAuthenticator, key_algorithms, load_verification_keys
from gateway.authn.settings import JwtSettings
from gateway.exchange import Principal
from tests.conftest import make_exchange

ISSUER = "https://idp.example.test"
AUDIENCE = "dlp-gateway"
HS_SECRET = "hs-secret-for-tests-0123456789abcdef"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(private) -> str:
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def claims(**overrides) -> dict:
    now = int(time.time())
    data = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300,
            "roles": ["agent", "viewer"], "tenants": ["t1"]}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def settings(**overrides) -> JwtSettings:
    data = {"issuer": ISSUER, "audience": AUDIENCE, "leeway_seconds": 0}
    data.update(overrides)
    return JwtSettings.model_validate(data)


def authenticator(**overrides) -> JwtAuthenticator:
    return JwtAuthenticator.from_settings(settings(**overrides))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict, payload: dict, secret: bytes | None) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = b"" if secret is None else hmac.new(
        secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def reason(auth: JwtAuthenticator, token: str) -> str:
    with pytest.raises(AuthError) as info:
        auth.verify(token)
    return info.value.reason


def test_rs256_happy_path(rsa_key):
    auth = authenticator(public_key_pem=public_pem(rsa_key))
    token = jwt.encode(claims(), rsa_key, algorithm="RS256")
    assert auth.verify(token) == Principal("alice", ("agent", "viewer"), ("t1",), "jwt")


def test_es256_happy_path(ec_key):
    auth = authenticator(public_key_pem=public_pem(ec_key))
    token = jwt.encode(claims(sub="bob"), ec_key, algorithm="ES256")
    assert auth.verify(token).user == "bob"


def test_hs256_happy_path():
    auth = authenticator(hs_secret=HS_SECRET)
    token = jwt.encode(claims(), HS_SECRET, algorithm="HS256")
    assert auth.verify(token).user == "alice"


def test_bad_signature(rsa_key, other_rsa_key):
    auth = authenticator(public_key_pem=public_pem(rsa_key))
    assert reason(auth, jwt.encode(claims(), other_rsa_key, algorithm="RS256")) == "bad_signature"
    header, _payload, signature = jwt.encode(claims(), rsa_key, algorithm="RS256").split(".")
    tampered = b64(json.dumps(claims(sub="mallory")).encode())
    assert reason(auth, f"{header}.{tampered}.{signature}") == "bad_signature"


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"exp": int(time.time()) - 60}, "expired_token"),
    ({"aud": "another-service"}, "wrong_audience"),
    ({"iss": "https://evil.example.test"}, "wrong_issuer"),
    ({"exp": None}, "missing_claim"),
    ({"aud": None}, "missing_claim"),
    ({"nbf": int(time.time()) + 600}, "token_not_yet_valid"),
])
def test_claims_are_enforced(rsa_key, overrides, expected):
    auth = authenticator(public_key_pem=public_pem(rsa_key))
    assert reason(auth, jwt.encode(claims(**overrides), rsa_key, algorithm="RS256")) == expected


def test_leeway_absorbs_clock_skew(rsa_key):
    token = jwt.encode(claims(exp=int(time.time()) - 10), rsa_key, algorithm="RS256")
    assert reason(authenticator(public_key_pem=public_pem(rsa_key)), token) == "expired_token"
    lenient = authenticator(public_key_pem=public_pem(rsa_key), leeway_seconds=60)
    assert lenient.verify(token).user == "alice"


def test_audience_list_accepts_any_listed(rsa_key):
    auth = authenticator(public_key_pem=public_pem(rsa_key), audience=["crm", AUDIENCE])
    assert auth.verify(jwt.encode(claims(), rsa_key, algorithm="RS256")).user == "alice"


def test_alg_none_is_refused(rsa_key):
    auth = authenticator(public_key_pem=public_pem(rsa_key), hs_secret=HS_SECRET)
    for alg in ("none", "None", "NONE", ""):
        assert reason(auth, forge({"alg": alg, "typ": "JWT"}, claims(), None)) in {
            "algorithm_not_allowed", "malformed_token"}


def test_hs256_signed_with_the_rsa_public_key_is_refused(rsa_key):
    pem = public_pem(rsa_key)
    token = forge({"alg": "HS256", "typ": "JWT"}, claims(), pem.encode())
    assert reason(authenticator(public_key_pem=pem), token) == "algorithm_not_allowed"
    # Even with HS256 allowed and an HMAC secret configured, HS256 never meets the RSA key.
    both = authenticator(public_key_pem=pem, hs_secret=HS_SECRET,
                         algorithms=["RS256", "HS256"])
    assert reason(both, token) == "bad_signature"
    assert not any(alg.startswith("HS") for alg in key_algorithms(rsa_key.public_key()))


def test_algorithm_not_configured_is_refused(rsa_key):
    auth = authenticator(public_key_pem=public_pem(rsa_key), algorithms=["RS256"])
    assert reason(auth, jwt.encode(claims(), rsa_key, algorithm="PS256")) == (
        "algorithm_not_allowed")


def write_jwks(tmp_path, entries) -> str:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": entries}))
    return str(path)


def jwk(private, kid, **extra) -> dict:
    algorithm = RSAAlgorithm if isinstance(private, rsa.RSAPrivateKey) else ECAlgorithm
    data = algorithm.to_jwk(private.public_key(), as_dict=True)
    return {**data, "kid": kid, **extra}


def test_jwks_kid_selects_the_key(tmp_path, rsa_key, other_rsa_key, ec_key):
    path = write_jwks(tmp_path, [jwk(rsa_key, "k1"), jwk(other_rsa_key, "k2", use="sig"),
                                 jwk(ec_key, "k3", alg="ES256")])
    auth = authenticator(jwks_path=path)
    for private, kid, alg in ((rsa_key, "k1", "RS256"), (other_rsa_key, "k2", "RS256"),
                              (ec_key, "k3", "ES256")):
        token = jwt.encode(claims(), private, algorithm=alg, headers={"kid": kid})
        assert auth.verify(token).user == "alice"
    wrong_kid = jwt.encode(claims(), other_rsa_key, algorithm="RS256", headers={"kid": "k1"})
    assert reason(auth, wrong_kid) == "bad_signature"
    unknown = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "nope"})
    assert reason(auth, unknown) == "unknown_kid"
    no_kid = jwt.encode(claims(), other_rsa_key, algorithm="RS256")
    assert auth.verify(no_kid).user == "alice"


def test_jwks_rules(tmp_path, rsa_key):
    private_jwk = {**RSAAlgorithm.to_jwk(rsa_key, as_dict=True), "kid": "priv"}
    with pytest.raises(ValueError, match="private"):
        load_verification_keys(settings(jwks_path=write_jwks(tmp_path, [private_jwk])))
    confused = jwk(rsa_key, "k1", alg="HS256")
    oct_key = {"kty": "oct", "k": b64(b"x" * 32), "kid": "sym"}
    with pytest.raises(ValueError, match="no usable"):
        load_verification_keys(settings(jwks_path=write_jwks(tmp_path, [confused, oct_key])))
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    k1 = ec.generate_private_key(ec.SECP256K1())
    mixed = [jwk(weak, "weak"), jwk(k1, "k1curve"), jwk(rsa_key, "enc", use="enc"),
             jwk(rsa_key, "good")]
    keys = load_verification_keys(settings(jwks_path=write_jwks(tmp_path, mixed)))
    assert [key.kid for key in keys] == ["good"]
    assert keys[0].algorithms == ("RS256",)
    assert "key=" not in repr(keys[0]) and "RSAPublicKey" not in repr(keys[0])


def test_weak_and_mismatched_keys_are_refused_at_start(rsa_key):
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValueError, match="2048"):
        authenticator(public_key_pem=public_pem(weak))
    with pytest.raises(ValueError, match="no configured algorithm"):
        authenticator(public_key_pem=public_pem(rsa_key), algorithms=["ES256"])
    with pytest.raises(ValidationError):
        settings(hs_secret="too-short")
    with pytest.raises(ValidationError):
        settings()


def test_claim_mapping(rsa_key):
    auth = authenticator(public_key_pem=public_pem(rsa_key), claims={
        "user": "preferred_username", "roles": "realm_access.roles",
        "tenants": "https://crm.example.test/tenants"})
    token = jwt.encode(claims(preferred_username="carol", realm_access={"roles": "a b,c"},
                              **{"https://crm.example.test/tenants": ["t9"]}),
                       rsa_key, algorithm="RS256")
    assert auth.verify(token) == Principal("carol", ("a", "b", "c"), ("t9",), "jwt")


@pytest.mark.parametrize("overrides", [
    {"sub": None}, {"sub": ""}, {"sub": 42}, {"roles": 7}, {"roles": ["ok", 3]},
    {"tenants": {"t": 1}}, {"roles": ["bad\nrole"]},
])
def test_malformed_identity_claims_are_refused(rsa_key, overrides):
    auth = authenticator(public_key_pem=public_pem(rsa_key))
    assert reason(auth, jwt.encode(claims(**overrides), rsa_key, algorithm="RS256")) == (
        "bad_claim")


async def test_authenticate_reads_only_bearer_tokens(rsa_key):
    auth = authenticator(public_key_pem=public_pem(rsa_key))
    token = jwt.encode(claims(), rsa_key, algorithm="RS256")
    assert await auth.authenticate(make_exchange()) is None
    basic = make_exchange(headers={"Authorization": "Basic YWxpY2U6cHc="})
    assert await auth.authenticate(basic) is None
    good = make_exchange(headers={"Authorization": f"bearer {token}"})
    assert (await auth.authenticate(good)).user == "alice"
    ex = make_exchange()
    ex.request.headers.add("Authorization", f"Bearer {token}")
    ex.request.headers.add("Authorization", "Basic YWxpY2U6cHc=")
    with pytest.raises(AuthError, match="ambiguous"):
        await auth.authenticate(ex)
    with pytest.raises(AuthError, match="too_large"):
        auth.verify("a" * 9000)
    with pytest.raises(AuthError, match="malformed"):
        auth.verify("not-a-jwt")
