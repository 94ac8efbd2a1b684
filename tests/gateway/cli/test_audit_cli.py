"""``dlp-gateway audit keygen|verify|export|prune`` and their exit codes."""

from __future__ import annotations

import json
import stat
import time

import sqlalchemy as sa
from click.testing import CliRunner

from gateway.audit_wiring import load_signer
from gateway.cli.main import cli
from gateway.config import load_config
from reports.audit_chain import format_time
from reports.audit_log import AuditLog
from reports.audit_store import PendingEntry, append_entries
from reports.database import open_database

DAY = 86_400.0


def setup(tmp_path, database_url: str, entries: int = 12):
    config = tmp_path / "gw.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\n"
        "upstreams: {crm: {url: 'http://127.0.0.1:1'}}\n"
        "routes: [{name: crm, upstream: crm}]\n"
        f"store: {{url: '{database_url}'}}\n"
        "audit: {retention_days: 365}\n"
    )
    loaded = load_config(config)
    db = open_database(loaded.database_url())
    log = AuditLog(db, load_signer(loaded, create=True))
    for n in range(entries):
        log.append({"kind": "request", "actor": "bob", "n": n})
    log.close()
    return str(config), db


def run(*args: str):
    return CliRunner().invoke(cli, ["audit", *args])


def test_keygen_writes_a_private_key_and_prints_the_public_key(tmp_path):
    out = tmp_path / "keys" / "audit.pem"
    result = run("keygen", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "-----BEGIN PUBLIC KEY-----" in result.stdout
    assert "PRIVATE" not in result.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    again = run("keygen", "--out", str(out))
    assert again.exit_code == 2 and "exists" in again.output
    assert run("keygen", "--out", str(out), "--force").exit_code == 0


def test_verify_exit_codes(tmp_path, database_url):
    config, db = setup(tmp_path, database_url)
    try:
        intact = run("verify", "--config", config)
        assert intact.exit_code == 0, intact.output
        assert "intact: 12 entries" in intact.output
        with db.begin() as conn:
            conn.execute(sa.text("UPDATE audit_entries SET payload = :p WHERE seq = 6"),
                         {"p": '{"n":99}'})
        tampered = run("verify", "--config", config)
        assert tampered.exit_code == 1
        assert "first bad seq 6" in tampered.output
        as_json = run("verify", "--config", config, "--json")
        assert as_json.exit_code == 1
        assert json.loads(as_json.output)["first_bad_seq"] == 6
    finally:
        db.close()


def test_verify_trusts_only_the_given_public_keys(tmp_path, database_url):
    config, db = setup(tmp_path, database_url)
    db.close()
    other = tmp_path / "other.pem"
    public = tmp_path / "other.pub"
    public.write_text(run("keygen", "--out", str(other)).stdout)
    result = run("verify", "--config", config, "--public-key", str(public))
    assert result.exit_code == 1 and "unknown key" in result.output
    own = tmp_path / "own.pub"
    own.write_bytes(load_signer(load_config(config)).public_key.public_bytes(
        *_pem_public()))
    assert run("verify", "--config", config, "--public-key", str(own)).exit_code == 0


def _pem_public():
    from cryptography.hazmat.primitives import serialization

    return serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo


def test_usage_and_config_errors_exit_2(tmp_path):
    assert run("verify", "--config", str(tmp_path / "missing.yaml")).exit_code == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("upstreams: {crm: {url: 'http://x:1'}}\nroutes: [{name: c, upstream: crm}]\n"
                   "audit: {retention_days: 30}\n")
    result = run("verify", "--config", str(bad))
    assert result.exit_code == 2 and "retention_days" in result.output


def test_a_missing_signing_key_is_a_config_error(tmp_path):
    config = tmp_path / "gw.yaml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\n"
        "upstreams: {crm: {url: 'http://127.0.0.1:1'}}\n"
        "routes: [{name: crm, upstream: crm}]\n"
        f"audit: {{signing_key: {tmp_path / 'absent.pem'}}}\n"
    )
    result = run("verify", "--config", str(config))
    assert result.exit_code == 2 and "audit keygen" in result.output


def test_export_writes_json_lines_between_since_and_until(tmp_path, database_url):
    config, db = setup(tmp_path, database_url, entries=0)
    now = time.time()
    stamps = [now - 10 * DAY, now - 5 * DAY, now - 2 * DAY, now]
    with db.begin() as conn:
        append_entries(conn, [PendingEntry(format_time(t), "request", "bob",
                                           b'{"n":%d}' % i) for i, t in enumerate(stamps)])
    db.close()
    since = format_time(now - 6 * DAY)[:10]
    until = format_time(now - 1 * DAY)
    result = run("export", "--config", config, "--since", since, "--until", until)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["payload"]["n"] for line in lines] == [1, 2]
    assert set(lines[0]) == {"seq", "at", "kind", "actor", "payload", "prev_hash", "hash"}
    assert lines[1]["prev_hash"] == lines[0]["hash"]
    out = tmp_path / "siem.jsonl"
    assert run("export", "--config", config, "--out", str(out)).exit_code == 0
    assert len(out.read_text().splitlines()) == 4
    assert run("export", "--config", config, "--since", "yesterday").exit_code == 2


def test_prune_then_verify(tmp_path, database_url):
    config, db = setup(tmp_path, database_url, entries=0)
    now = time.time()
    with db.begin() as conn:
        append_entries(conn, [PendingEntry(format_time(now - d * DAY), "request", None,
                                           b"{}") for d in (500, 400, 3, 1)])
    db.close()
    result = run("prune", "--config", config)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"deleted": 2, "cut_seq": 2, "retention_days": 365}
    verified = run("verify", "--config", config)
    assert verified.exit_code == 0, verified.output
