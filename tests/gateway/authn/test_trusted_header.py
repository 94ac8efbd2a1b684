from __future__ import annotations

import logging

import pytest
from multidict import CIMultiDict
from pydantic import ValidationError

from gateway.authn.authenticator import AuthError
from gateway.authn.settings import TrustedHeaderSettings
from gateway.authn.trusted_header import TrustedHeaderAuthenticator
from gateway.exchange import Exchange, Principal, RequestData

IDENTITY = {"X-Forwarded-User": "alice", "X-Forwarded-Roles": "agent, viewer",
            "X-Forwarded-Tenants": "t1 t2"}


def exchange(client_ip: str, headers: dict[str, str] | None = None) -> Exchange:
    request = RequestData(method="GET", path="/api/customers", query_string="",
                          headers=CIMultiDict(headers or {}), client_ip=client_ip)
    return Exchange(request_id="test-request", request=request)


@pytest.fixture
def auth() -> TrustedHeaderAuthenticator:
    return TrustedHeaderAuthenticator(TrustedHeaderSettings(
        proxy_cidrs=["10.0.0.0/8", "192.0.2.10/32", "2001:db8::/32"]))


@pytest.mark.parametrize("peer", ["10.1.2.3", "192.0.2.10", "::ffff:10.9.9.9", "2001:db8::5"])
async def test_accepted_from_a_trusted_proxy(auth, peer):
    principal = await auth.authenticate(exchange(peer, IDENTITY))
    assert principal == Principal("alice", ("agent", "viewer"), ("t1", "t2"), "trusted_header")
    assert auth.spoof_attempts == 0


@pytest.mark.parametrize("peer", ["203.0.113.7", "192.0.2.11", "127.0.0.1", "2001:db9::1",
                                  "", "not-an-ip"])
async def test_spoofed_from_elsewhere_is_ignored_removed_and_logged(auth, peer, caplog):
    ex = exchange(peer, {**IDENTITY, "Accept": "application/json"})
    with caplog.at_level(logging.DEBUG):
        assert await auth.authenticate(ex) is None
    assert auth.spoof_attempts == 1
    assert list(ex.request.headers) == ["Accept"]
    assert ex.verdicts == [{"stage": "authn", "decision": "ignore",
                            "code": "untrusted_identity_header",
                            "headers": ["X-Forwarded-User", "X-Forwarded-Roles",
                                        "X-Forwarded-Tenants"]}]
    assert "X-Forwarded-User" in caplog.text and peer in caplog.text
    for value in ("alice", "agent", "viewer", "t1"):
        assert value not in caplog.text


async def test_no_identity_headers_means_no_opinion(auth):
    assert await auth.authenticate(exchange("10.0.0.1")) is None
    assert await auth.authenticate(exchange("203.0.113.7")) is None
    assert auth.spoof_attempts == 0


@pytest.mark.parametrize("headers", [
    {"X-Forwarded-Roles": "admin"},
    {"X-Forwarded-User": ""},
    {"X-Forwarded-User": "alice", "X-Forwarded-Roles": "x" * 200},
])
async def test_malformed_identity_from_a_trusted_proxy_is_refused(auth, headers):
    with pytest.raises(AuthError):
        await auth.authenticate(exchange("10.0.0.1", headers))


async def test_repeated_identity_header_is_refused(auth):
    ex = exchange("10.0.0.1")
    ex.request.headers.add("X-Forwarded-User", "alice")
    ex.request.headers.add("X-Forwarded-User", "admin")
    with pytest.raises(AuthError, match="ambiguous"):
        await auth.authenticate(ex)


def test_strip_rules(auth):
    trusted = exchange("10.0.0.1", IDENTITY)
    auth.strip(trusted, forward=True)
    assert len(trusted.request.headers) == 3
    auth.strip(trusted, forward=False)
    assert len(trusted.request.headers) == 0
    untrusted = exchange("203.0.113.7", IDENTITY)
    auth.strip(untrusted, forward=True)
    assert len(untrusted.request.headers) == 0 and auth.spoof_attempts == 1
    assert auth.challenge("r", None) is None


def test_custom_header_names():
    auth = TrustedHeaderAuthenticator(TrustedHeaderSettings(
        user_header="X-Auth-Request-User", roles_header="X-Auth-Request-Groups",
        tenants_header="X-Auth-Request-Tenants", proxy_cidrs=["10.0.0.0/8"]))
    assert auth.header_names == ("X-Auth-Request-User", "X-Auth-Request-Groups",
                                 "X-Auth-Request-Tenants")


@pytest.mark.parametrize("data", [
    {"proxy_cidrs": []},
    {"proxy_cidrs": ["0.0.0.0/0"]},
    {"proxy_cidrs": ["::/0"]},
    {"proxy_cidrs": ["10.0.0.300/8"]},
    {"proxy_cidrs": ["10.0.0.0/8"], "user_header": "X-Forwarded-Roles"},
    {"proxy_cidrs": ["10.0.0.0/8"], "user_header": "X Bad"},
])
def test_settings_validation(data):
    with pytest.raises(ValidationError):
        TrustedHeaderSettings.model_validate(data)
