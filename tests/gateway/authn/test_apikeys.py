from __future__ import annotations

import json
import sqlite3
import stat
import time

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from gateway.authn.apikeys import (
    ApiKeyAuthenticator,
    ApiKeyStore,
    generate_api_key,
    hash_api_key,
    parse_api_key,
)
from gateway.authn.authenticator import AuthError
from gateway.authn.settings import ApiKeySettings
from gateway.cli.apikeys import PEPPER_ENV, apikeys
from gateway.exchange import Principal
from tests.conftest import make_exchange

PEPPER = "pepper-for-tests-0123456789"
OWNER = Principal("bob", ("agent",), ("t1", "t2"), "api_key")


def key_settings(**overrides) -> ApiKeySettings:
    data = {"pepper": PEPPER}
    data.update(overrides)
    return ApiKeySettings.model_validate(data)


@pytest.fixture
def store(tmp_path) -> ApiKeyStore:
    return ApiKeyStore(tmp_path / "state" / "apikeys.sqlite3")


@pytest.fixture
def auth(store) -> ApiKeyAuthenticator:
    return ApiKeyAuthenticator(key_settings(), store)


async def check(auth: ApiKeyAuthenticator, key: str) -> Principal | None:
    return await auth.authenticate(make_exchange(headers={"X-API-Key": key}))


async def reason(auth: ApiKeyAuthenticator, key: str) -> str:
    with pytest.raises(AuthError) as info:
        await check(auth, key)
    return info.value.reason


def test_key_format():
    key_id, key = generate_api_key()
    assert key.startswith(f"dlpk_{key_id}_") and len(key) > 60
    assert parse_api_key(key) == key_id
    assert generate_api_key()[1] != key
    for bad in ("demo-bob", "dlpk_xyz_secret", "dlpk_0123456789abcdef_", "dlpk_0123456789abcdef"):
        assert parse_api_key(bad) is None


def test_store_is_created_private_and_holds_only_digests(tmp_path, store):
    assert store.path.is_file()
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    record, key = store.create(OWNER, PEPPER.encode())
    rows = sqlite3.connect(store.path).execute("SELECT * FROM api_keys").fetchall()
    assert len(rows) == 1 and key not in repr(rows) and key.split("_", 2)[2] not in repr(rows)
    assert rows[0][1] == hash_api_key(PEPPER.encode(), key)
    assert store.list_keys() == [record]
    assert ApiKeyStore(store.path).list_keys() == [record]


async def test_valid_stored_key(auth, store):
    _, key = store.create(OWNER, PEPPER.encode())
    assert await check(auth, key) == OWNER
    assert await check(auth, f"  {key} ") == OWNER
    assert await auth.authenticate(make_exchange()) is None


async def test_revoked_key_is_refused_at_once(auth, store):
    record, key = store.create(OWNER, PEPPER.encode())
    assert await check(auth, key) == OWNER
    assert ApiKeyStore(store.path).revoke(record.id)
    assert await reason(auth, key) == "revoked_api_key"
    assert store.revoke(record.id)
    assert not store.revoke("0" * 16)
    assert store.list_keys()[0].status(time.time()) == "revoked"


async def test_expired_key_is_refused(auth, store):
    _, key = store.create(OWNER, PEPPER.encode(), expires=int(time.time()) - 1)
    assert await reason(auth, key) == "expired_api_key"
    _, later = store.create(OWNER, PEPPER.encode(), expires=int(time.time()) + 3600)
    assert await check(auth, later) == OWNER


async def test_wrong_secret_with_the_right_id(auth, store):
    record, key = store.create(OWNER, PEPPER.encode())
    forged = f"dlpk_{record.id}_{generate_api_key()[1].split('_', 2)[2]}"
    assert await reason(auth, forged) == "wrong_api_key_secret"
    assert await reason(auth, key[:-1]) == "wrong_api_key_secret"
    assert await reason(auth, f"dlpk_{'f' * 16}_{key.split('_', 2)[2]}") == "unknown_api_key"


async def test_pepper_change_invalidates_keys(store):
    _, key = store.create(OWNER, PEPPER.encode())
    other = ApiKeyAuthenticator(key_settings(pepper="another-pepper-0123456789"), store)
    assert await reason(other, key) == "wrong_api_key_secret"


async def test_static_keys_hashed_and_demo():
    settings = key_settings(store_path=None, static=[
        {"name": "ops", "user": "ops-bot", "roles": ["auditor"],
         "hash": hash_api_key(PEPPER.encode(), "ops-static-key-123")},
        {"name": "bob-demo", "user": "bob", "roles": ["agent"], "tenants": ["t1"],
         "key": "demo-bob", "demo": True},
    ])
    auth = ApiKeyAuthenticator(settings, None)
    assert await check(auth, "ops-static-key-123") == Principal("ops-bot", ("auditor",), (),
                                                               "api_key")
    assert (await check(auth, "demo-bob")).user == "bob"
    assert await reason(auth, "demo-alice") == "unknown_api_key"
    assert await reason(auth, "dlpk_0123456789abcdef_secret") == "unknown_api_key"


@pytest.mark.parametrize("entry", [
    {"name": "x", "user": "u", "key": "plain-key-here"},
    {"name": "x", "user": "u", "key": "plain-key-here", "hash": "0" * 64, "demo": True},
    {"name": "x", "user": "u"},
    {"name": "x", "user": "u", "hash": "not-hex"},
    {"name": "same-as-key", "user": "u", "key": "same-as-key", "demo": True},
])
def test_static_entry_validation(entry):
    with pytest.raises(ValidationError):
        key_settings(static=[entry])


def test_pepper_is_required_and_hidden():
    with pytest.raises(ValidationError):
        ApiKeySettings.model_validate({"pepper": "short"})
    assert PEPPER not in repr(key_settings())


async def test_malformed_and_ambiguous_headers(auth):
    assert await reason(auth, "x" * 300) == "malformed_api_key"
    ex = make_exchange()
    ex.request.headers.add("X-API-Key", "a")
    ex.request.headers.add("X-API-Key", "b")
    with pytest.raises(AuthError, match="ambiguous"):
        await auth.authenticate(ex)


def test_cli_create_list_revoke(tmp_path, monkeypatch):
    monkeypatch.setenv(PEPPER_ENV, PEPPER)
    path = tmp_path / "keys.sqlite3"
    runner = CliRunner()
    created = runner.invoke(apikeys, ["--store", str(path), "create", "--user", "bob",
                                      "--role", "agent", "--tenant", "t1", "--tenant", "t2",
                                      "--expires-days", "30"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    key_id = parse_api_key(key)
    assert key_id is not None and "not be shown again" in created.stderr
    listed = runner.invoke(apikeys, ["--store", str(path), "list"])
    assert listed.exit_code == 0
    (line,) = [json.loads(x) for x in listed.stdout.splitlines()]
    assert line["id"] == key_id and line["user"] == "bob" and line["status"] == "active"
    assert line["roles"] == ["agent"] and line["tenants"] == ["t1", "t2"] and line["expires"]
    assert key.split("_", 2)[2] not in listed.output
    assert hash_api_key(PEPPER.encode(), key) not in listed.output
    assert runner.invoke(apikeys, ["--store", str(path), "revoke", key_id]).exit_code == 0
    listed = runner.invoke(apikeys, ["--store", str(path), "list"])
    assert json.loads(listed.stdout)["status"] == "revoked"
    missing = runner.invoke(apikeys, ["--store", str(path), "revoke", "0" * 16])
    assert missing.exit_code == 1


def test_cli_hash_and_usage_errors(tmp_path, monkeypatch):
    runner = CliRunner()
    monkeypatch.delenv(PEPPER_ENV, raising=False)
    no_pepper = runner.invoke(apikeys, ["--store", str(tmp_path / "k.db"), "create",
                                        "--user", "bob"])
    assert no_pepper.exit_code == 2 and PEPPER_ENV in no_pepper.output
    assert runner.invoke(apikeys, ["list"]).exit_code == 2
    assert runner.invoke(apikeys, ["--store", str(tmp_path / "none.db"), "list"]).exit_code == 2
    monkeypatch.setenv(PEPPER_ENV, PEPPER)
    hashed = runner.invoke(apikeys, ["--store", str(tmp_path / "k.db"), "hash"],
                           input="demo-bob\n")
    assert hashed.exit_code == 0
    assert hashed.stdout.strip() == hash_api_key(PEPPER.encode(), "demo-bob")
    assert "demo-bob" not in hashed.stdout
    bad_user = runner.invoke(apikeys, ["--store", str(tmp_path / "k.db"), "create",
                                       "--user", "bad\nuser"])
    assert bad_user.exit_code == 2


def test_cli_config_without_auth_section(tmp_path):
    config = tmp_path / "gateway.yaml"
    config.write_text("upstreams: {crm: {url: 'http://127.0.0.1:9'}}\n"
                      "routes: [{name: crm, upstream: crm}]\n")
    result = CliRunner().invoke(apikeys, ["--config", str(config), "list"])
    assert result.exit_code == 2 and "auth.api_keys" in result.output
