"""Alembic environment: runs on the connection ``Database.migrate`` passes in.

On PostgreSQL an advisory lock serialises replicas that start at the same moment.
"""

from __future__ import annotations

from alembic import context

_LOCK_KEY = 0x646C7067  # "dlpg"

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, transaction_per_migration=False)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")
    context.run_migrations()
