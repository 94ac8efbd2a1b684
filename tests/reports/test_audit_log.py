"""The audit writer and ``verify`` on SQLite and PostgreSQL: tampering is found at its seq."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from reports.audit_chain import Signer, generate_key
from reports.audit_log import AuditLog, AuditOptions, AuditWriteError
from reports.audit_store import iter_entries, write_checkpoint
from reports.audit_verify import verify_chain
from reports.database import Database, open_database


class FakeMetric:
    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1) -> None:
        self.value += amount

    def set(self, value: float) -> None:
        self.value = value


class Metrics:
    def __init__(self) -> None:
        self.audit_write_failures = FakeMetric()
        self.audit_checkpoint = FakeMetric()


@pytest.fixture
def signer(tmp_path) -> Signer:
    return Signer(generate_key(tmp_path / "audit.pem"))


@pytest.fixture
def db(database_url) -> Iterator[Database]:
    database = open_database(database_url)
    yield database
    database.close()


def keys(signer: Signer) -> dict:
    return {signer.key_id: signer.public_key}


def fill(db: Database, signer: Signer, count: int = 20, **options) -> AuditLog:
    log = AuditLog(db, signer, options=AuditOptions(**options))
    for n in range(count):
        log.append({"kind": "request", "actor": f"user{n % 3}", "n": n, "path": f"/c/{n}"})
    return log


def sql(db: Database, statement: str, **params) -> None:
    with db.begin() as conn:
        conn.execute(sa.text(statement), params)


def first_bad(db: Database, signer: Signer) -> tuple[int | None, str]:
    report = verify_chain(db, keys(signer))
    bad = report.first_bad
    return (bad.seq, bad.reason) if bad else (None, "")


def test_appends_commit_in_order_and_verify(db, signer):
    metrics = Metrics()
    log = AuditLog(db, signer, metrics)
    for n in range(50):
        log.append({"n": n})
    seq = log.append_durable_sync({"kind": "admin_action", "actor": "admin", "what": "x"})
    assert seq == 51
    log.close()
    entries = list(iter_entries(db))
    assert [e.seq for e in entries] == list(range(1, 52))
    assert entries[0].kind == "request" and entries[0].payload == '{"n":0}'
    assert entries[-1].actor == "admin" and entries[-1].kind == "admin_action"
    report = verify_chain(db, keys(signer))
    assert report.ok, report.problems
    assert report.entries == 51 and report.checkpoints == 1
    assert metrics.audit_checkpoint.value > 0 and metrics.audit_write_failures.value == 0


async def test_append_durable_awaits_the_commit(db, signer):
    log = AuditLog(db, signer)
    seqs = await asyncio.gather(*(log.append_durable({"kind": "approval_approved", "i": i})
                                  for i in range(10)))
    assert sorted(seqs) == list(range(1, 11))
    with db.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM audit_entries")).scalar() == 10
    log.close()
    with pytest.raises(AuditWriteError):
        await log.append_durable({"late": True})


def test_checkpoint_every_n_entries(db, signer):
    log = fill(db, signer, 0, checkpoint_entries=10, checkpoint_seconds=3600)
    for n in range(35):
        log.append_durable_sync({"n": n})
    log.flush()
    with db.read() as conn:
        covered = [r[0] for r in conn.execute(sa.text(
            "SELECT seq FROM audit_checkpoints ORDER BY seq"))]
    log.close()
    assert len(covered) >= 3 and covered == sorted(set(covered))
    assert verify_chain(db, keys(signer)).ok


def test_changed_payload_is_found_at_its_seq(db, signer):
    fill(db, signer).close()
    sql(db, "UPDATE audit_entries SET payload = :p WHERE seq = 7",
        p='{"n":6,"path":"/c/666"}')
    seq, reason = first_bad(db, signer)
    assert seq == 7 and "changed" in reason


def test_changed_actor_is_found(db, signer):
    fill(db, signer).close()
    sql(db, "UPDATE audit_entries SET actor = 'someone-else' WHERE seq = 12")
    assert first_bad(db, signer)[0] == 12


def test_deleted_entry_is_found_at_its_seq(db, signer):
    fill(db, signer).close()
    sql(db, "DELETE FROM audit_entries WHERE seq = 9")
    seq, reason = first_bad(db, signer)
    assert seq == 9 and "missing" in reason


def test_reordered_entries_are_found(db, signer):
    fill(db, signer).close()
    sql(db, "UPDATE audit_entries SET seq = -1 WHERE seq = 5")
    sql(db, "UPDATE audit_entries SET seq = 5 WHERE seq = 8")
    sql(db, "UPDATE audit_entries SET seq = 8 WHERE seq = -1")
    report = verify_chain(db, keys(signer))
    assert report.first_bad is not None and report.first_bad.seq == 5
    assert {p.seq for p in report.problems} >= {5, 8}


def test_forged_checkpoint_signature_is_found(db, signer):
    fill(db, signer).close()
    sql(db, "UPDATE audit_checkpoints SET signature = :s WHERE seq = 20",
        s="A" * 86 + "==")
    seq, reason = first_bad(db, signer)
    assert seq == 20 and "signature" in reason


def test_checkpoint_signed_by_another_key_is_found(db, signer, tmp_path):
    fill(db, signer).close()
    intruder = Signer(generate_key(tmp_path / "intruder.pem"))
    sql(db, "DELETE FROM audit_checkpoints")
    with db.begin() as conn:
        write_checkpoint(conn, intruder, "2030-01-01T00:00:00.000000Z", "periodic")
    seq, reason = first_bad(db, signer)
    assert seq == 20 and "unknown key" in reason


def test_consistently_rewritten_tail_is_caught_by_the_signed_head(db, signer):
    from reports.audit_chain import canonical, entry_body, entry_hash

    fill(db, signer).close()
    entries = list(iter_entries(db))
    prev = entries[14].hash
    for entry in entries[15:]:
        payload = canonical({"n": -1})
        digest = entry_hash(prev, entry_body(entry.seq, entry.at, entry.kind, entry.actor,
                                             payload))
        sql(db, "UPDATE audit_entries SET payload = :p, prev_hash = :ph, hash = :h "
                "WHERE seq = :s", p=payload.decode(), ph=prev, h=digest, s=entry.seq)
        prev = digest
    sql(db, "UPDATE audit_head SET hash = :h", h=prev)
    seq, reason = first_bad(db, signer)
    assert seq == 20 and "rewritten" in reason


def test_truncated_tail_under_a_checkpoint_is_found(db, signer):
    fill(db, signer).close()
    sql(db, "DELETE FROM audit_entries WHERE seq > 17")
    seq, _ = first_bad(db, signer)
    assert seq == 18


def test_deleted_oldest_entries_without_a_prune_checkpoint_are_found(db, signer):
    fill(db, signer).close()
    sql(db, "DELETE FROM audit_entries WHERE seq <= 4")
    seq, reason = first_bad(db, signer)
    assert seq == 1 and "prune" in reason


def test_concurrent_writers_keep_one_chain(database_url, signer):
    databases = [open_database(database_url) for _ in range(2)]
    logs = [AuditLog(d, signer, options=AuditOptions(batch_max=7)) for d in databases]
    barrier = threading.Barrier(2)

    def writer(index: int) -> None:
        barrier.wait()
        for n in range(300):
            if n % 25 == 0:
                logs[index].append_durable_sync({"writer": index, "n": n})
            else:
                logs[index].append({"writer": index, "n": n})

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for log in logs:
        log.close()
    try:
        assert [log.failures for log in logs] == [0, 0]
        assert [log.retries for log in logs] == [0, 0], "writers raced for the same head"
        entries = list(iter_entries(databases[0]))
        assert [e.seq for e in entries] == list(range(1, 601))
        assert verify_chain(databases[0], keys(signer)).ok
    finally:
        for database in databases:
            database.close()


def test_write_failure_is_counted_and_marks_the_log_unhealthy(db, signer):
    metrics = Metrics()
    log = AuditLog(db, signer, metrics)
    log.append_durable_sync({"n": 0})
    assert log.healthy()
    sql(db, "DROP TABLE audit_head")
    with pytest.raises(AuditWriteError):
        log.append_durable_sync({"n": 1})
    log.append({"n": 2})
    log.flush()
    assert metrics.audit_write_failures.value == 2
    assert not log.healthy()
    log.close()


def test_an_unserialisable_entry_fails_alone(db, signer):
    log = AuditLog(db, signer)
    with pytest.raises(AuditWriteError):
        log.append_durable_sync({"bad": object()})
    assert log.append_durable_sync({"good": 1}) == 1
    log.close()
    assert log.failures == 1


def test_kind_and_actor_come_out_of_the_payload(db, signer):
    log = AuditLog(db, signer)
    log.append({"event": "incident_note", "actor": "carol", "incident": "INC-1"})
    log.append({"status": 200})
    log.close()
    first, second = list(iter_entries(db))
    assert (first.kind, first.actor, first.payload) == ("incident_note", "carol",
                                                         '{"incident":"INC-1"}')
    assert (second.kind, second.actor) == ("request", None)
