"""Shared fixtures: a real PostgreSQL 15 per test session, fresh migrated databases on both
engines, the example config and a travelling clock."""

from __future__ import annotations

import itertools
import logging
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from bot import db
from metrics.store import make_engine, make_session_factory
from tests.support.postgres import PostgresServer, PostgresUnavailable, running_postgres

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "examples" / "drumbeat.toml"
_counter = itertools.count()
_PG_MISSING: list[str] = []


@pytest.fixture(autouse=True)
def _restore_root_log_level() -> Iterator[None]:
    """`bot.cli.main` sets the root log level (DRUMBEAT_LOG_LEVEL): keep that to its test."""
    level = logging.getLogger().level
    yield
    logging.getLogger().setLevel(level)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | None]:
    try:
        with running_postgres() as server:
            yield server
    except PostgresUnavailable as exc:
        _PG_MISSING.append(str(exc))
        sys.stderr.write(f"\n*** PostgreSQL tests SKIPPED: {exc} ***\n")
        yield None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for reason in _PG_MISSING:
        terminalreporter.write_line(
            f"*** WARNING: PostgreSQL tests were SKIPPED: {reason} ***", red=True, bold=True
        )


@pytest.fixture(scope="session")
def pg_template(postgres_server: PostgresServer | None) -> str | None:
    """A migrated template database; each test clones it (fast) instead of migrating."""
    if postgres_server is None:
        return None
    admin = make_engine(postgres_server.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE drumbeat_template"))
    admin.dispose()
    db.upgrade(postgres_server.url("drumbeat_template"))
    return "drumbeat_template"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    db.upgrade(f"sqlite:///{path}")
    return path


def fresh_database_url(
    engine_name: str,
    tmp_path: Path,
    *,
    postgres_server: PostgresServer | None,
    template: str | Path | None,
    migrated: bool = True,
) -> str:
    if engine_name == "sqlite":
        path = tmp_path / f"drumbeat-{next(_counter)}.db"
        if migrated:
            assert isinstance(template, Path)
            shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    if postgres_server is None:
        pytest.skip("PostgreSQL server binaries are absent on this machine")
    name = f"t_{next(_counter)}"
    admin = make_engine(postgres_server.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        suffix = f" TEMPLATE {template}" if migrated else ""
        conn.execute(text(f"CREATE DATABASE {name}{suffix}"))
    admin.dispose()
    return postgres_server.url(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_db_url(engine_name: str, tmp_path: Path, postgres_server: PostgresServer | None) -> str:
    """A URL to an empty database (no schema) on each engine."""
    return fresh_database_url(
        engine_name, tmp_path, postgres_server=postgres_server, template=None, migrated=False
    )


@pytest.fixture
def db_url(
    engine_name: str,
    tmp_path: Path,
    postgres_server: PostgresServer | None,
    request: pytest.FixtureRequest,
) -> str:
    """A URL to a freshly migrated database, on SQLite and on PostgreSQL (parametrized)."""
    template: str | Path | None
    if engine_name == "sqlite":
        template = request.getfixturevalue("sqlite_template")
    else:
        template = request.getfixturevalue("pg_template")
    return fresh_database_url(
        engine_name, tmp_path, postgres_server=postgres_server, template=template
    )


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as sess:
        yield sess
