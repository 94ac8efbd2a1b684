from __future__ import annotations

import pytest

from gateway.config import ConfigError, load_config, parse_config, parse_size

BASE = {
    "upstreams": {"crm": {"url": "http://127.0.0.1:8081"}},
    "routes": [{"name": "crm", "upstream": "crm"}],
}


def with_(**changes):
    data = {**BASE, **changes}
    return data


def test_minimal_config_gets_defaults():
    cfg = parse_config(BASE, env={})
    assert cfg.admin.prefix == "/_dlp/"
    assert cfg.limits.request_body_bytes == 10 * 1024**2
    assert cfg.stages == ["metrics", "audit", "pii_mask"]


@pytest.mark.parametrize(
    ("data", "names"),
    [
        (with_(routes=[{"name": "crm", "upstream": "nope"}]), "routes[0].upstream"),
        (with_(routes=[]), "routes"),
        (with_(upstreams={"crm": {"url": "ftp://x"}}), "upstreams.crm.url"),
        (with_(listen={"port": 70000}), "listen.port"),
        (with_(limits={"request_body_bytes": "ten"}), "limits.request_body_bytes"),
        (with_(limits={"max_decode_ratio": 0.5}), "limits.max_decode_ratio"),
        (with_(unknown_key=1), "unknown_key"),
        (with_(routes=[{"name": "crm", "upstream": "crm", "prefx": "/"}]), "routes[0].prefx"),
        (with_(admin={"prefix": "no-slash"}), "admin.prefix"),
        (with_(routes=[{"name": "a", "prefix": "/_dlp/x", "upstream": "crm"}]), "routes[0].prefix"),
        (with_(secrets={"hmac_key": "short"}), "secrets.hmac_key"),
        (with_(stages=["metrics", "teleport"]), "stages"),
        (with_(upstreams={"crm": {"url": "http://x", "timeouts": {"read": -1}}}),
         "upstreams.crm.timeouts.read"),
    ],
)
def test_invalid_config_names_the_key(data, names):
    with pytest.raises(ConfigError) as info:
        parse_config(data, env={})
    assert names in str(info.value)


def test_top_level_must_be_a_mapping():
    with pytest.raises(ConfigError, match="mapping"):
        parse_config(["a"], env={})


def test_env_expansion_and_overrides():
    data = with_(secrets={"hmac_key": "${MY_KEY}"})
    cfg = parse_config(data, env={"MY_KEY": "k" * 32})
    assert cfg.secrets.hmac_key == "k" * 32
    cfg = parse_config(BASE, env={"DLPGW_SECRETS__HMAC_KEY": "e" * 20,
                                  "DLPGW_LISTEN__PORT": "9000"})
    assert cfg.secrets.hmac_key == "e" * 20
    assert cfg.listen.port == 9000
    with pytest.raises(ConfigError, match="MISSING_VAR"):
        parse_config(with_(secrets={"hmac_key": "${MISSING_VAR}"}), env={})
    cfg = parse_config(with_(state_dir="${NOPE:-/tmp/x}"), env={})
    assert cfg.state_dir == "/tmp/x"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(10, 10), ("10", 10), ("1KiB", 1024), ("2 MiB", 2 * 1024**2), ("1.5GB", 1_500_000_000),
     ("1mb", 1_000_000)],
)
def test_sizes(value, expected):
    assert parse_size(value) == expected


@pytest.mark.parametrize("value", ["", "ten", "-1", -5, True, "1XB", None])
def test_bad_sizes(value):
    with pytest.raises(ValueError):
        parse_size(value)


def test_load_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("routes: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_example_config_is_valid():
    cfg = load_config("gateway.example.yaml", env={"DLPGW_HMAC_KEY": "x" * 32})
    assert cfg.routes


def test_policy_paths_are_relative_to_the_config_file(tmp_path):
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "gw.yaml"
    path.write_text(
        "upstreams: {crm: {url: 'http://127.0.0.1:1'}}\n"
        "routes: [{name: crm, upstream: crm}]\n"
        "policy: {model: model.conf, policy: /abs/policy.csv}\n"
    )
    cfg = load_config(path)
    assert cfg.policy.model == str(tmp_path / "conf" / "model.conf")
    assert cfg.policy.policy == "/abs/policy.csv"
    assert cfg.policy.grouping is None
