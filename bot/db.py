"""Schema management: run Alembic migrations from inside the package (no alembic.ini needed).

    upgrade(url)                      # `drumbeat migrate`: serialised across replicas
    problem = schema_problem(url)     # None, or "database schema at X, this version needs Y..."

`is_database_error` / `describe_database_error` sort and word the database's own failures
(unreachable, schema missing or behind) for one-line logs.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.exc import DBAPIError

import migrations
from metrics.store import normalize_url

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalize_url(database_url).replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from metrics.store import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    """The newest migration this version of Drumbeat ships."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None, "no migrations found"
    return head


def schema_problem(database_url: str) -> str | None:
    """None when the database's schema is at this code's head revision; else one line
    saying where it is, what is needed and what to do. Raises the driver's error when the
    database cannot be reached (the caller's connection check reports that)."""
    current, head = current_revision(database_url), head_revision()
    if current == head:
        return None
    known = {
        s.revision
        for s in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()
    }
    if current is not None and current not in known:
        return (
            f"database schema at {current}, which this version of Drumbeat does not know "
            f"(it needs {head}): a newer version migrated it; run that version"
        )
    shown = current or "none (no Drumbeat tables)"
    return f"database schema at {shown}, this version needs {head}: run `drumbeat migrate`"


def is_database_error(exc: BaseException) -> bool:
    """A failure of the database itself (unreachable, a table or column missing), not of
    our code: worth one line in the log, not a traceback."""
    return isinstance(exc, DBAPIError)


def describe_database_error(exc: BaseException) -> str:
    """One line: the exception's class and the driver's first line (no SQL, no parameters)."""
    orig = getattr(exc, "orig", None) or exc
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
    return f"{type(orig).__name__}: {first}"[:300]
