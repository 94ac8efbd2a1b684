"""Canonical encoding, hash links and Ed25519 checkpoints of the audit chain."""

from __future__ import annotations

import hashlib
import stat
from dataclasses import replace

import orjson
import pytest

from reports.audit_chain import (
    GENESIS,
    Signer,
    canonical,
    entry_body,
    entry_hash,
    format_time,
    generate_key,
    key_id,
    load_private_key,
    load_public_key,
    public_pem,
    verify_checkpoint,
)


def test_entry_body_is_the_canonical_json_of_the_whole_entry():
    payload = {"z": 1, "a": {"y": [1.5, None, "中文"], "b": True}}
    body = entry_body(42, "2025-01-31T08:00:00.000000Z", "request", "bob", canonical(payload))
    whole = {"seq": 42, "at": "2025-01-31T08:00:00.000000Z", "kind": "request",
             "actor": "bob", "payload": payload}
    assert body == orjson.dumps(whole, option=orjson.OPT_SORT_KEYS)
    assert entry_body(1, "t", "k", None, b"{}") == b'{"actor":null,"at":"t","kind":"k",' \
                                                   b'"payload":{},"seq":1}'


def test_hash_is_sha256_over_prev_hash_and_body():
    body = entry_body(1, "t", "k", None, b"{}")
    assert entry_hash(GENESIS, body) == hashlib.sha256(GENESIS.encode() + body).hexdigest()
    assert entry_hash(GENESIS, body) != entry_hash("1" * 64, body)


def test_times_sort_as_strings():
    stamps = [format_time(t) for t in (0.5, 9.25, 1_700_000_000.123456, 1_800_000_000.0)]
    assert stamps == sorted(stamps)
    assert stamps[0] == "1970-01-01T00:00:00.500000Z"


def test_checkpoint_signatures_verify_and_detect_changes(tmp_path):
    signer = Signer(generate_key(tmp_path / "k.pem"))
    keys = {signer.key_id: signer.public_key}
    cp = signer.checkpoint(10, "ab" * 32, "2025-01-01T00:00:00.000000Z", "periodic")
    assert verify_checkpoint(cp, keys) is None
    for changed in (replace(cp, seq=11), replace(cp, head_hash="cd" * 32),
                    replace(cp, reason="prune"), replace(cp, at="2026-01-01T00:00:00.000000Z")):
        assert verify_checkpoint(changed, keys) == "checkpoint signature is invalid"
    assert verify_checkpoint(replace(cp, signature="not base64!"), keys) is not None
    other = Signer(generate_key(tmp_path / "other.pem"))
    forged = other.checkpoint(10, "ab" * 32, cp.at, "periodic")
    assert "unknown key" in (verify_checkpoint(forged, keys) or "")
    assert verify_checkpoint(replace(forged, key_id=signer.key_id), keys) is not None


def test_generated_key_is_private_and_loads_back(tmp_path):
    path = tmp_path / "keys" / "audit.pem"
    key = generate_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key_id(load_private_key(path).public_key()) == key_id(key.public_key())
    public = tmp_path / "audit.pub"
    public.write_text(public_pem(key.public_key()))
    assert key_id(load_public_key(public)) == key_id(load_public_key(path))
    with pytest.raises(FileExistsError):
        generate_key(path)


def test_workers_racing_to_create_the_key_agree_on_one(tmp_path):
    import threading

    path = tmp_path / "audit.pem"
    winners, losers = [], []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        try:
            winners.append(key_id(generate_key(path).public_key()))
        except FileExistsError:
            losers.append(key_id(load_private_key(path).public_key()))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1 and set(losers) == set(winners)
    assert [p.name for p in tmp_path.iterdir()] == ["audit.pem"]
