"""`--engine postgresql`: only the scenarios that support it run, and the loader that copies
the cached SQLite org into PostgreSQL keeps every value (checked by rolling both up)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from bench.__main__ import main
from bench.common import ENGINES, SCENARIOS
from metrics.rollups import rebuild_rollups
from metrics.store import make_engine, make_session_factory
from tests.conftest import fresh_database_url
from tests.metrics.builders import snapshot
from tests.metrics.test_rollup_sql import _config, _move_dana, _populate
from tests.support.postgres import PostgresServer


def test_sqlite_only_scenarios_are_refused_on_postgresql(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert set(ENGINES) <= set(SCENARIOS)
    assert "postgresql" in ENGINES["rollup_refresh"]
    with pytest.raises(SystemExit) as exc:
        main(["alerts", "--engine", "postgresql"])
    assert exc.value.code == 2
    assert "alerts run on sqlite only" in capsys.readouterr().err


def test_the_loader_copies_the_sqlite_org_exactly(
    tmp_path: Path, postgres_server: PostgresServer | None, sqlite_template: Path
) -> None:
    from bench.pg import load_sqlite

    if postgres_server is None:
        pytest.skip("PostgreSQL server binaries are absent on this machine")
    source_url = fresh_database_url(
        "sqlite", tmp_path, postgres_server=None, template=sqlite_template
    )
    cfg = _config()
    source = make_engine(source_url)
    with make_session_factory(source)() as session:
        _populate(session, cfg)
        cfg = _move_dana(session, cfg)
        rebuild_rollups(session, config=cfg)
        session.commit()
        expected = snapshot(session)
    source.dispose()
    target_url = fresh_database_url(
        "postgresql", tmp_path, postgres_server=postgres_server, template=None, migrated=False
    )
    load_sqlite(tmp_path / source_url.rsplit("/", 1)[1], target_url)
    target = make_engine(target_url)
    try:
        with make_session_factory(target)() as session:
            assert snapshot(session) == expected  # the copied rollups
            result = rebuild_rollups(session, config=cfg)  # from the copied records
            assert result.rows_changed == 0
            assert snapshot(session) == expected
            indexes = session.execute(
                text("SELECT indexname FROM pg_indexes WHERE tablename = 'activities'")
            ).scalars()
            assert "ix_activities_owner_occurred" in set(indexes)
    finally:
        target.dispose()
