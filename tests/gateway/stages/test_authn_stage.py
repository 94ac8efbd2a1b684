from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import jwt
import pytest
from multidict import CIMultiDict

from gateway.authn.apikeys import ApiKeyStore
from gateway.authn.settings import AuthSettings
from gateway.exchange import Exchange, Principal, RequestData
from gateway.stage import Stage
from gateway.stages.authn import AuthnStage
from tests.conftest import make_exchange

HS_SECRET = "stage-hs-secret-0123456789abcdefgh"
PEPPER = "stage-pepper-0123456789"
ISSUER = "https://idp.example.test"
AUDIENCE = "dlp-gateway"
ALICE = Principal("alice", ("agent",), ("t1",), "jwt")


def auth_settings(**overrides) -> AuthSettings:
    data = {
        "methods": ["jwt", "api_key", "trusted_header"],
        "jwt": {"issuer": ISSUER, "audience": AUDIENCE, "hs_secret": HS_SECRET,
                "algorithms": ["HS256"]},
        "api_keys": {"pepper": PEPPER, "store_path": "apikeys.sqlite3", "static": [
            {"name": "bob-demo", "user": "bob", "roles": ["agent"], "key": "demo-bob",
             "demo": True}]},
        "trusted_header": {"proxy_cidrs": ["10.0.0.0/8"]},
        "public_paths": ["/login", "/api/health", "/static/*",
                         {"path": "/api/public", "methods": ["get"]}],
    }
    data.update(overrides)
    return AuthSettings.model_validate(data)


def build(tmp_path: Path, **overrides) -> AuthnStage:
    return AuthnStage.from_settings(auth_settings(**overrides), lambda name: tmp_path / name)


def token(**overrides) -> str:
    now = int(time.time())
    claims = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 300,
              "roles": ["agent"], "tenants": ["t1"], **overrides}
    return jwt.encode(claims, HS_SECRET, algorithm="HS256")


def exchange_from(client_ip: str, path: str, headers: dict[str, str]) -> Exchange:
    request = RequestData(method="GET", path=path, query_string="",
                          headers=CIMultiDict(headers), client_ip=client_ip)
    return Exchange(request_id="test-request", request=request)


def body(ex: Exchange) -> dict:
    assert ex.response is not None and ex.response.body is not None
    return json.loads(ex.response.body)


def test_protocol_and_flags(tmp_path):
    stage = build(tmp_path)
    assert isinstance(stage, Stage)
    assert stage.name == "authn" and stage.critical is True
    with pytest.raises(ValueError, match="auth section"):
        AuthnStage.from_settings(None, lambda name: tmp_path / name)


async def test_missing_credentials_get_401_with_challenges(tmp_path):
    ex = make_exchange("GET", "/api/customers")
    await build(tmp_path).on_request(ex)
    assert ex.status == 401 and ex.principal is None
    assert body(ex)["error"] == "unauthenticated"
    assert ex.denial is not None and ex.denial.stage == "authn"
    assert ex.response.headers.getall("WWW-Authenticate") == [
        'Bearer realm="dlp-gateway"', 'ApiKey realm="dlp-gateway", header="X-API-Key"']


async def test_invalid_token_gets_401_invalid_token(tmp_path):
    ex = make_exchange("GET", "/api/customers",
                       headers={"Authorization": f"Bearer {token(exp=1)}"})
    await build(tmp_path).on_request(ex)
    assert ex.status == 401 and body(ex)["error"] == "invalid_credentials"
    assert 'Bearer realm="dlp-gateway", error="invalid_token"' in (
        ex.response.headers.getall("WWW-Authenticate"))
    assert {"stage": "authn", "decision": "reject", "method": "jwt",
            "reason": "expired_token"} in ex.verdicts
    assert "expired" not in ex.response.body.decode().replace("or expired", "")


async def test_valid_jwt_sets_the_principal_and_strips_credentials(tmp_path):
    ex = make_exchange("POST", "/api/customers", headers={
        "Authorization": f"Bearer {token()}", "X-API-Key": "demo-bob",
        "X-Forwarded-User": "mallory", "Accept": "application/json"})
    await build(tmp_path).on_request(ex)
    assert ex.denial is None and ex.principal == ALICE
    assert list(ex.request.headers) == ["Accept"]
    assert {"stage": "authn", "decision": "allow", "method": "jwt"} in ex.verdicts


async def test_api_keys_static_and_stored(tmp_path):
    stage = build(tmp_path)
    ex = make_exchange("GET", "/api/customers", headers={"X-API-Key": "demo-bob"})
    await stage.on_request(ex)
    assert ex.principal == Principal("bob", ("agent",), (), "api_key")
    assert "X-API-Key" not in ex.request.headers
    record, key = ApiKeyStore(tmp_path / "apikeys.sqlite3").create(
        Principal("carol", ("auditor",), ("t2",)), PEPPER.encode())
    ex = make_exchange("GET", "/api/customers", headers={"x-api-key": key})
    await stage.on_request(ex)
    assert ex.principal == Principal("carol", ("auditor",), ("t2",), "api_key")
    ApiKeyStore(tmp_path / "apikeys.sqlite3").revoke(record.id)
    ex = make_exchange("GET", "/api/customers", headers={"X-API-Key": key})
    await stage.on_request(ex)
    assert ex.status == 401 and ex.verdicts[0]["reason"] == "revoked_api_key"


async def test_forward_credentials_keeps_headers(tmp_path):
    ex = make_exchange("GET", "/x", headers={"Authorization": f"Bearer {token()}",
                                             "X-API-Key": "demo-bob"})
    await build(tmp_path, forward_credentials=True).on_request(ex)
    assert ex.principal == ALICE
    assert set(ex.request.headers) == {"Authorization", "X-API-Key"}


async def test_first_presented_credential_decides(tmp_path):
    stage = build(tmp_path)
    bad_then_good = make_exchange("GET", "/x", headers={"Authorization": "Bearer nope",
                                                        "X-API-Key": "demo-bob"})
    await stage.on_request(bad_then_good)
    assert bad_then_good.status == 401 and bad_then_good.principal is None
    reordered = build(tmp_path, methods=["api_key", "jwt"])
    both = make_exchange("GET", "/x", headers={"Authorization": f"Bearer {token()}",
                                               "X-API-Key": "demo-bob"})
    await reordered.on_request(both)
    assert both.principal is not None and both.principal.auth_method == "api_key"


async def test_trusted_header_only_from_the_proxy(tmp_path):
    stage = build(tmp_path)
    headers = {"X-Forwarded-User": "dave", "X-Forwarded-Roles": "admin"}
    spoofed = exchange_from("203.0.113.9", "/api/customers", dict(headers))
    await stage.on_request(spoofed)
    assert spoofed.status == 401 and spoofed.principal is None
    assert spoofed.verdicts[0]["code"] == "untrusted_identity_header"
    proxied = exchange_from("10.2.3.4", "/api/customers", dict(headers))
    await stage.on_request(proxied)
    assert proxied.principal == Principal("dave", ("admin",), (), "trusted_header")
    assert "X-Forwarded-User" not in proxied.request.headers


async def test_spoofed_headers_are_removed_even_when_forwarding(tmp_path):
    stage = build(tmp_path, forward_credentials=True)
    ex = exchange_from("203.0.113.9", "/api/customers", {
        "Authorization": f"Bearer {token()}", "X-Forwarded-User": "admin"})
    await stage.on_request(ex)
    assert ex.principal == ALICE
    assert "Authorization" in ex.request.headers
    assert "X-Forwarded-User" not in ex.request.headers


@pytest.mark.parametrize(("method", "path", "public"), [
    ("POST", "/login", True),
    ("GET", "/api/health", True),
    ("GET", "/static/app.js", True),
    ("GET", "/api/public", True),
    ("POST", "/api/public", False),
    ("GET", "/login/admin", False),
    ("GET", "/loginx", False),
    ("GET", "/api/health/details", False),
    ("GET", "/static", False),
])
async def test_public_paths(tmp_path, method, path, public):
    ex = make_exchange(method, path, headers={"X-API-Key": "wrong", "X-Forwarded-User": "x"})
    await build(tmp_path).on_request(ex)
    assert (ex.denial is None) is public
    assert ex.principal is None
    if public:
        assert ex.metadata["authn"] == "public"
        assert "X-API-Key" not in ex.request.headers
        assert "X-Forwarded-User" not in ex.request.headers


async def test_public_path_can_be_limited_to_a_route(tmp_path):
    stage = build(tmp_path, public_paths=[{"path": "/login", "routes": ["crm"]}])
    on_route = make_exchange("GET", "/login", route="crm")
    await stage.on_request(on_route)
    assert on_route.denial is None
    elsewhere = make_exchange("GET", "/login", route="other")
    await stage.on_request(elsewhere)
    assert elsewhere.status == 401


async def test_on_response_does_nothing(tmp_path):
    ex = make_exchange()
    await build(tmp_path).on_response(ex)
    assert ex.response is None


async def test_no_credential_ever_reaches_the_logs(tmp_path, caplog):
    stage = build(tmp_path)
    store = ApiKeyStore(tmp_path / "apikeys.sqlite3")
    revoked, revoked_key = store.create(Principal("erin"), PEPPER.encode())
    store.revoke(revoked.id)
    _, good_key = store.create(Principal("frank"), PEPPER.encode())
    wrong_key = good_key[:-4] + "AAAA"
    tokens = [token(), token(exp=1), token(aud="other"), token()[:-3] + "abc",
              jwt.encode({"sub": "x"}, "another-secret-0123456789abcdefghij",
                         algorithm="HS256")]
    requests = [{"Authorization": f"Bearer {t}"} for t in tokens] + [
        {"X-API-Key": k} for k in (good_key, revoked_key, wrong_key, "demo-bob", "guess")
    ]
    with caplog.at_level(logging.DEBUG):
        for headers in requests:
            await stage.on_request(make_exchange("GET", "/api/customers", headers=headers))
        await stage.on_request(exchange_from("198.51.100.1", "/api/customers", {
            "X-Forwarded-User": "victim", "X-Forwarded-Roles": "admin"}))
    text = caplog.text + "".join(repr(record.args) for record in caplog.records)
    assert "revoked_api_key" in text and "untrusted peer 198.51.100.1" in text
    secrets = [HS_SECRET, PEPPER, "demo-bob", "guess", "victim", *tokens]
    for key in (good_key, revoked_key, wrong_key):
        secrets += [key, key.split("_", 2)[2]]
    for token_text in tokens:
        secrets += token_text.split(".")
    leaked = [s for s in secrets if s in text]
    assert leaked == []


EXAMPLE_YAML = """
methods: [jwt, api_key, trusted_header]
realm: dlp-gateway
forward_credentials: false
public_paths:
  - /api/health
  - /static/*
  - {path: /login, methods: [GET, POST], routes: [crm]}
jwt:
  issuer: https://sso.example.com/realms/crm
  audience: dlp-gateway
  leeway_seconds: 30
  jwks_path: /etc/dlp-gateway/jwks.json
  algorithms: [RS256, ES256]
  claims: {user: preferred_username, roles: realm_access.roles, tenants: tenants}
api_keys:
  header: X-API-Key
  store_path: apikeys.sqlite3
  pepper: pepper-from-env-0123456789
  static:
    - {name: ops-monitor, user: monitor, roles: [health], hash: "%s"}
    - {name: bob-demo, user: bob, roles: [agent], tenants: [t1], key: demo-bob, demo: true}
trusted_header:
  user_header: X-Forwarded-User
  roles_header: X-Forwarded-Roles
  tenants_header: X-Forwarded-Tenants
  proxy_cidrs: [10.0.0.0/8, "fd00::/8"]
""" % ("0" * 64)


def test_documented_example_parses():
    import yaml

    settings = AuthSettings.model_validate(yaml.safe_load(EXAMPLE_YAML))
    assert settings.methods == ["jwt", "api_key", "trusted_header"]
    assert settings.public_paths[2].matches("POST", "/login", "crm")
    assert "pepper-from-env" not in repr(settings)


@pytest.mark.parametrize("overrides", [
    {"methods": []},
    {"methods": ["jwt", "jwt"]},
    {"methods": ["kerberos"]},
    {"methods": ["jwt"], "jwt": None},
    {"public_paths": ["login"]},
    {"public_paths": ["/a*/b"]},
    {"realm": 'x", error="y'},
    {"unknown": True},
])
def test_settings_validation(overrides):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        auth_settings(**overrides)
