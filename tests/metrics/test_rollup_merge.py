"""The PostgreSQL rebuild writes only the rows that differ (`merge_staged_rollups`); on both
engines a rebuild repairs any damage to `metric_daily` and leaves the session as it was."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from metrics.models import MetricDaily
from metrics.rollups import rebuild_rollups
from tests.metrics.builders import snapshot
from tests.metrics.test_rollup_sql import _config, _move_dana, _populate


def test_a_rebuild_repairs_damage_writing_only_the_differences(
    session: Session, engine_name: str
) -> None:
    cfg = _config()
    org = _populate(session, cfg)
    cfg = _move_dana(session, cfg)
    expected_result = rebuild_rollups(session, config=cfg, sql=False)
    expected = snapshot(session)
    first = rebuild_rollups(session, config=cfg)  # nothing to repair
    assert snapshot(session) == expected
    assert first.rows_written == expected_result.rows_written == len(expected)
    assert first.rows_changed == (0 if engine_name == "postgresql" else None)

    dana, raj = org.person["dana"], org.person["raj"]
    keys = sorted(k for k in expected if k[0] == dana)
    wrong_value, wrong_team, missing = keys[0], keys[1], keys[2]
    rows = MetricDaily.__table__.c
    for (person, metric, day), change in (
        (wrong_value, {"value": 99.0}),
        (wrong_team, {"team_key": None}),
    ):
        session.execute(
            update(MetricDaily)
            .where(rows.person_id == person, rows.metric == metric, rows.day == day)
            .values(**change)
        )
    person, metric, day = missing
    session.execute(
        delete(MetricDaily).where(rows.person_id == person, rows.metric == metric, rows.day == day)
    )
    session.add(MetricDaily(person_id=raj, metric="calls", day=dt.date(2020, 1, 1), value=5.0))
    session.flush()
    assert snapshot(session) != expected

    repaired = rebuild_rollups(session, config=cfg)
    assert snapshot(session) == expected
    assert repaired.rows_written == len(expected)
    assert repaired.person_days == expected_result.person_days
    # Changed value and team: delete + insert each; the missing row: an insert; the
    # extra row: a delete.
    assert repaired.rows_changed == (6 if engine_name == "postgresql" else None)
    leftovers = session.execute(
        text("SELECT count(*) FROM pg_class WHERE relname LIKE 'tmp_rollup%'")
        if engine_name == "postgresql"
        else text("SELECT count(*) FROM temp.sqlite_master WHERE name LIKE 'tmp_rollup%'")
    ).scalar_one()
    assert leftovers == 0


def test_a_rebuild_into_an_empty_table_and_a_rolled_back_one(session: Session) -> None:
    cfg = _config()
    _populate(session, cfg)
    rebuild_rollups(session, config=cfg, sql=False)
    expected = snapshot(session)
    session.execute(delete(MetricDaily))
    result = rebuild_rollups(session, config=cfg)
    assert snapshot(session) == expected
    if result.rows_changed is not None:
        assert result.rows_changed == len(expected)  # all inserted
    session.commit()
    session.execute(delete(MetricDaily).where(MetricDaily.__table__.c.metric == "calls"))
    rebuild_rollups(session, config=cfg)
    session.rollback()
    assert snapshot(session) == expected


def test_the_rebuild_restores_the_session_settings(session: Session, engine_name: str) -> None:
    """On PostgreSQL the rebuild turns JIT off for its statements only."""
    cfg = _config()
    _populate(session, cfg)
    if engine_name == "postgresql":
        session.execute(text("SET jit = on"))
        rebuild_rollups(session, config=cfg)
        assert session.execute(text("SELECT current_setting('jit')")).scalar_one() == "on"
    else:
        cache = session.execute(text("PRAGMA cache_size")).scalar_one()
        rebuild_rollups(session, config=cfg)
        assert session.execute(text("PRAGMA cache_size")).scalar_one() == cache
    assert session.scalar(select(MetricDaily.person_id).limit(1)) is not None
