"""Database plumbing: the declarative base, engines and session factories.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a busy timeout, so a
bot, a sync and a CLI lookup can share one file. PostgreSQL is reached through psycopg 3; a
plain ``postgresql://`` URL is mapped to the psycopg driver.

Callers own transactions: service functions take a `Session` and never commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC datetime on every engine.

    Stored as ``timestamptz`` on PostgreSQL and as naive UTC text on SQLite; naive values
    are refused on the way in, and every value comes back aware in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store aware UTC datetimes only")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def normalize_url(url: str) -> str:
    """Map ``postgres://`` and ``postgresql://`` to the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL and foreign keys, PostgreSQL gets psycopg 3."""
    url = normalize_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def redacted(url: str) -> str:
    """The URL with its password hidden, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


def insert_ignore(
    session: Session, model: type[Base], rows: list[dict[str, Any]], *, keys: list[str]
) -> int:
    """``INSERT … ON CONFLICT (keys) DO NOTHING``: how many rows were new.

    Idempotent writes without savepoints (which the SQLite driver would commit early when
    they open a transaction), on SQLite 3.24+ and PostgreSQL. Callers own the transaction.
    """
    if not rows:
        return 0
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = session.get_bind().dialect.name
    statement: Any
    if dialect == "postgresql":
        statement = postgresql.insert(model).on_conflict_do_nothing(index_elements=keys)
    elif dialect == "sqlite":
        statement = sqlite.insert(model).on_conflict_do_nothing(index_elements=keys)
    else:  # pragma: no cover - only the two supported engines exist
        raise RuntimeError(f"unsupported database {dialect!r}")
    connection = session.connection()
    if len(rows) == 1:
        return int(connection.execute(statement, rows[0]).rowcount or 0)
    return int(connection.execute(statement, rows).rowcount or 0)


def raw_rows(conn: Connection, statement: Any) -> list[tuple[Any, ...]]:
    """All rows of a Core SELECT straight from the DB-API cursor, for reads of thousands of
    plain values (ints, text, floats: no type conversion happens, so not for dates):
    SQLAlchemy's result rows cost ~2 µs a row more (10,000 rows: 32 ms against 11 ms).
    Values are rendered as literals with SQLAlchemy's quoting, so each call compiles."""
    sql = str(statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        cursor.close()
