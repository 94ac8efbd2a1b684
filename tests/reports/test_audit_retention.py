"""Retention: pruning keeps ``verify`` green; less than six months is a config error."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from gateway.audit_wiring import load_signer, prune_audit_log, signing_key_path
from gateway.config import ConfigError
from reports.audit_chain import Signer, format_time, generate_key
from reports.audit_log import AuditLog
from reports.audit_store import PendingEntry, append_entries, iter_entries
from reports.audit_verify import verify_chain
from reports.database import open_database
from tests.conftest import make_config

DAY = 86_400.0


def backdated(db, days_ago: list[float], now: float) -> None:
    with db.begin() as conn:
        append_entries(conn, [PendingEntry(format_time(now - d * DAY), "request", "bob",
                                           b'{"n":%d}' % i) for i, d in enumerate(days_ago)])


def test_prune_deletes_old_entries_and_verify_stays_green(database_url, tmp_path):
    db = open_database(database_url)
    signer = Signer(generate_key(tmp_path / "k.pem"))
    keys = {signer.key_id: signer.public_key}
    now = time.time()
    backdated(db, [400, 390, 380, 370, 100, 10, 1], now)
    log = AuditLog(db, signer)
    log.append_durable_sync({"kind": "admin_action", "actor": "admin"})
    try:
        result = prune_audit_log(log, 365, now)
        log.flush()
        assert (result.cut_seq, result.deleted) == (4, 4)
        assert result.checkpoint is not None and result.checkpoint.reason == "prune"
        entries = list(iter_entries(db))
        assert entries[0].seq == 5
        assert entries[-1].kind == "audit_prune" and '"deleted":4' in entries[-1].payload
        report = verify_chain(db, keys)
        assert report.ok, report.problems
        assert prune_audit_log(log, 365, now).deleted == 0
        log.append_durable_sync({"after": "prune"})
        assert verify_chain(db, keys).ok
    finally:
        log.close()
        db.close()


def test_prune_cut_is_a_prefix_even_when_times_interleave(database_url, tmp_path):
    db = open_database(database_url)
    signer = Signer(generate_key(tmp_path / "k.pem"))
    now = time.time()
    backdated(db, [400, 10, 399, 1], now)
    log = AuditLog(db, signer)
    try:
        result = prune_audit_log(log, 365, now)
        assert result.cut_seq == 1
        assert [e.seq for e in iter_entries(db)][:3] == [2, 3, 4]
        assert verify_chain(db, {signer.key_id: signer.public_key}).ok
    finally:
        log.close()
        db.close()


def test_a_forged_prune_anchor_is_found(database_url, tmp_path):
    db = open_database(database_url)
    signer = Signer(generate_key(tmp_path / "k.pem"))
    now = time.time()
    backdated(db, [400, 399, 1], now)
    log = AuditLog(db, signer)
    try:
        prune_audit_log(log, 365, now)
        with db.begin() as conn:
            conn.execute(sa.text("UPDATE audit_checkpoints SET head_hash = :h "
                                 "WHERE reason = 'prune'"), {"h": "f" * 64})
        report = verify_chain(db, {signer.key_id: signer.public_key})
        assert report.first_bad is not None and report.first_bad.seq == 1
        assert "no signed prune checkpoint" in report.first_bad.reason
        assert any(p.seq == 2 and "signature" in p.reason for p in report.problems)
    finally:
        log.close()
        db.close()


@pytest.mark.parametrize("days", [0, 90, 182])
def test_retention_below_six_months_is_refused(tmp_path, days):
    with pytest.raises(ConfigError, match=r"audit\.retention_days.*183"):
        make_config({"crm": "http://127.0.0.1:1"}, tmp_path, audit={"retention_days": days})


def test_retention_defaults_to_a_year(tmp_path):
    config = make_config({"crm": "http://127.0.0.1:1"}, tmp_path)
    assert config.audit.retention_days == 365
    assert make_config({"crm": "http://127.0.0.1:1"}, tmp_path,
                       audit={"retention_days": 183}).audit.retention_days == 183


def test_signing_key_is_generated_once_when_unset(tmp_path, caplog):
    config = make_config({"crm": "http://127.0.0.1:1"}, tmp_path)
    first = load_signer(config, create=True)
    assert "audit.signing_key is not set" in caplog.text
    assert load_signer(config, create=True).key_id == first.key_id
    assert signing_key_path(config).parent == tmp_path / "state"


def test_a_configured_signing_key_must_exist(tmp_path):
    config = make_config({"crm": "http://127.0.0.1:1"}, tmp_path,
                         audit={"signing_key": str(tmp_path / "missing.pem")})
    with pytest.raises(ValueError, match="audit keygen"):
        load_signer(config, create=True)
