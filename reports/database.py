"""One SQLAlchemy engine for the shared state, migrated with Alembic when it is opened.

SQLite (a file in the state directory) is the embedded default; a ``postgresql+psycopg://``
URL selects PostgreSQL, so that several gateway processes and hosts share approvals,
incidents and the audit chain. Both run the same migrations (``reports/migrations``).
Writes are synchronous: callers on the event loop hand them to a thread.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import Connection, Engine

__all__ = ["Database", "DatabaseError", "open_database", "sqlite_url"]

MIGRATIONS = Path(__file__).with_name("migrations")

DatabaseError = sa.exc.SQLAlchemyError


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Python's sqlite3 opens its own transactions lazily; SQLAlchemy drives them itself.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database:
    """The engine plus the few things callers need to know about its dialect."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @property
    def is_postgresql(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction; on SQLite it takes the write lock at once (``BEGIN IMMEDIATE``)."""
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
            else:
                with conn.begin():
                    yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def migrate(self) -> None:
        """Upgrade to the latest schema; replicas starting together take turns.

        PostgreSQL serialises through an advisory lock (``migrations/env.py``); SQLite,
        whose DDL cannot wait on a lock held by another process, through ``flock`` on a
        file beside the database.
        """
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self._file_lock(), self.engine.connect() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            conn.commit()

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        database = self.engine.url.database
        if self.dialect != "sqlite" or not database or database == ":memory:":
            yield
            return
        with open(f"{database}.migrate-lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def close(self) -> None:
        self.engine.dispose()


def open_database(url: str, *, migrate: bool = True) -> Database:
    """Connect (and by default migrate to the latest schema)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"isolation_level": None})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    db = Database(engine)
    if migrate:
        db.migrate()
    return db
