"""Alembic environment: the URL comes from Drumbeat's settings unless one is passed in.

Migrations run under a database-wide lock so replicas that all run `drumbeat migrate` at
start serialise: the first upgrades, the others wait and then find the schema current.
PostgreSQL: a transaction-level advisory lock (`MIGRATION_LOCK`), released when the
migration's transaction commits. SQLite: ``BEGIN IMMEDIATE`` takes the file's write lock
before the version is read (Python's sqlite3 would otherwise run the DDL outside a
transaction, and two processes would both create the tables).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from metrics.store import make_engine
from rhythms.schema import all_metadata

config = context.config
target_metadata = all_metadata()
MIGRATION_LOCK = 0x64726D62  # "drmb": pg_advisory_xact_lock key for migrations


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from bot.settings import Settings

    return Settings().database_url


def _lock(connection: Connection) -> None:
    """Wait for the database-wide migration lock, inside the migration's transaction (so
    Alembic sees an outer transaction and the lock lasts until its commit)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    elif connection.dialect.name == "sqlite" and not connection.in_transaction():
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _run(connection: Connection) -> None:
    _lock(connection)
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
