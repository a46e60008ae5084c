"""SQLite rebuilds fill a new `metric_daily` and swap it in (`metrics.rollup_table`): the
swapped-in table has the same schema, keeps its foreign key, and readers on another
connection see the old rows until the rebuild commits."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, delete, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from metrics.models import MetricDaily, Person
from metrics.rollup_table import SwapError, fresh_table
from metrics.rollups import rebuild_rollups
from tests.metrics.builders import snapshot
from tests.metrics.test_rollup_sql import _config, _populate


@pytest.fixture(params=["sqlite"])
def engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _schema(session: Session) -> list[tuple[str, str, str]]:
    """The stored DDL of metric_daily and its indexes (a renamed table's name is quoted)."""
    return [
        (kind, name, sql.replace('TABLE "metric_daily"', "TABLE metric_daily"))
        for kind, name, sql in session.execute(
            text(
                "SELECT type, name, coalesce(sql, '') FROM sqlite_master "
                "WHERE tbl_name LIKE 'metric_daily%' ORDER BY type, name"
            )
        )
    ]


def test_the_swapped_in_table_has_the_old_schema_and_foreign_key(session: Session) -> None:
    cfg = _config()
    org = _populate(session, cfg)
    session.commit()
    before = _schema(session)
    # WITHOUT ROWID (migration 0003): the primary key is the table, no separate index
    assert {name for _, name, _ in before} == {"metric_daily", "ix_metric_daily_team"}
    assert "WITHOUT ROWID" in dict((n, sql) for _, n, sql in before)["metric_daily"]
    rebuild_rollups(session, config=cfg)
    session.commit()
    assert _schema(session) == before  # same DDL, index names, no leftover table
    dana = org.person["dana"]
    assert session.scalar(select(func.count()).where(MetricDaily.person_id == dana)) > 0
    session.execute(delete(Person).where(Person.id == dana))
    session.commit()
    assert session.scalar(select(func.count()).where(MetricDaily.person_id == dana)) == 0


def test_readers_see_the_old_rows_until_the_rebuild_commits(
    session: Session, session_factory: sessionmaker[Session], engine: Engine
) -> None:
    cfg = _config()
    _populate(session, cfg)
    rebuild_rollups(session, config=cfg)
    session.commit()
    expected = snapshot(session)
    assert expected
    session.execute(delete(MetricDaily).where(MetricDaily.metric == "calls"))
    session.commit()
    damaged = snapshot(session)
    assert damaged != expected
    with session_factory() as reader:
        reader.execute(text("BEGIN"))  # a snapshot taken before the rebuild starts
        assert snapshot(reader) == damaged
        rebuild_rollups(session, config=cfg)
        assert snapshot(reader) == damaged
        session.commit()
        reader.rollback()
        assert snapshot(reader) == expected


def test_an_unexpected_stored_schema_is_refused_not_guessed(session: Session) -> None:
    conn = session.connection()
    conn.exec_driver_sql("CREATE TABLE x (a INTEGER)")
    conn.exec_driver_sql("DROP TABLE metric_daily")
    with pytest.raises(SwapError, match="no stored CREATE TABLE"):
        fresh_table(conn)
    session.rollback()
