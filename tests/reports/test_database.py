"""The shared database opens and migrates on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import sqlalchemy as sa

from reports.database import open_database


def test_migrates_to_head_and_is_idempotent(database_url: str) -> None:
    db = open_database(database_url)
    try:
        with db.read() as conn:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        assert version is not None and version.isdigit()
        db.migrate()
        with db.read() as conn:
            rows = conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar()
        assert rows == 1
    finally:
        db.close()


def test_transaction_rolls_back_on_error(database_url: str) -> None:
    db = open_database(database_url)
    try:
        with db.begin() as conn:
            conn.execute(sa.text("CREATE TABLE scratch (n INTEGER)"))
        try:
            with db.begin() as conn:
                conn.execute(sa.text("INSERT INTO scratch VALUES (1)"))
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        with db.read() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM scratch")).scalar() == 0
    finally:
        db.close()


def _open_and_close(url: str) -> str:
    db = open_database(url)
    with db.read() as conn:
        version = str(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar())
    db.close()
    return version


def test_processes_opening_a_fresh_database_together_take_turns(database_url: str) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        versions = pool.map(_open_and_close, [database_url] * 4)
    assert len(set(versions)) == 1
