"""The PostgreSQL rebuild writes only the rows that differ (`merge_staged_rollups`); on both
engines a rebuild repairs any damage to `metric_daily` and leaves the session as it was."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from metrics import rollup_merge
from metrics.catalog import build_catalog
from metrics.models import MetricDaily, Person
from metrics.rollup_merge import StagedRollups
from metrics.rollup_scan import Directory
from metrics.rollup_sql import SqlRollups
from metrics.rollups import rebuild_rollups, refresh_rollups
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
    # a row moved to another day: the person's row count and values stay the same
    person, metric, day = min(k for k in expected if k[0] == raj)
    session.execute(
        update(MetricDaily)
        .where(rows.person_id == person, rows.metric == metric, rows.day == day)
        .values(day=dt.date(2019, 1, 1))
    )
    session.flush()
    assert snapshot(session) != expected

    repaired = rebuild_rollups(session, config=cfg)
    assert snapshot(session) == expected
    assert repaired.rows_written == len(expected)
    assert repaired.person_days is None  # not counted by a rebuild
    # Changed value and team: delete + insert each; the missing row: an insert; the
    # extra row: a delete; the moved row: a delete and an insert.
    assert repaired.rows_changed == (8 if engine_name == "postgresql" else None)
    leftovers = session.execute(
        text("SELECT count(*) FROM pg_class WHERE relname LIKE 'tmp_rollup%'")
        if engine_name == "postgresql"
        else text("SELECT count(*) FROM temp.sqlite_master WHERE name LIKE 'tmp_rollup%'")
    ).scalar_one()
    assert leftovers == 0


def test_values_equal_but_for_their_last_bits_are_not_rewritten(
    session: Session, engine_name: str
) -> None:
    """Sums of the same amounts added in another order (the other engine, parallel workers,
    the Python scan) differ in their last bits: neither a rebuild nor an incremental
    refresh rewrites them, while a difference of one part in a million is repaired."""
    cfg = _config()
    org = _populate(session, cfg)
    rebuild_rollups(session, config=cfg)
    expected = snapshot(session)
    dana = org.person["dana"]
    person, metric, day = key = min(k for k in expected if k[0] == dana)
    rows = MetricDaily.__table__.c
    where = (rows.person_id == person, rows.metric == metric, rows.day == day)

    def nudge(factor: float) -> float:
        session.execute(update(MetricDaily).where(*where).values(value=rows.value * factor))
        return float(session.execute(select(rows.value).where(*where)).scalar_one())

    nudged = nudge(1 + 4e-15)
    assert nudged != expected[key][0]
    rebuild = rebuild_rollups(session, config=cfg)
    if engine_name == "postgresql":
        assert rebuild.rows_changed == 0
    else:  # SQLite rebuilds into a new table: every row is written afresh
        nudged = nudge(1 + 4e-15)
    org.mark("dana", dt.datetime.combine(day, dt.time(18), dt.UTC))
    assert refresh_rollups(session, config=cfg).rows_written == 0
    assert session.execute(select(rows.value).where(*where)).scalar_one() == nudged

    nudge(1 + 1e-6)
    org.mark("dana", dt.datetime.combine(day, dt.time(18), dt.UTC))
    assert refresh_rollups(session, config=cfg).rows_written == 1
    assert snapshot(session) == expected
    nudge(1 + 1e-6)
    repaired = rebuild_rollups(session, config=cfg)
    assert repaired.rows_changed == (2 if engine_name == "postgresql" else None)
    assert snapshot(session) == expected


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
    """On PostgreSQL the rebuild turns JIT (and, while staging, hash aggregation) off for
    its statements only."""
    cfg = _config()
    _populate(session, cfg)
    if engine_name == "postgresql":
        session.execute(text("SET jit = on"))
        rebuild_rollups(session, config=cfg)
        assert session.execute(text("SELECT current_setting('jit')")).scalar_one() == "on"
        # hash aggregation is off only while an aggregation is staged
        assert session.execute(text("SHOW enable_hashagg")).scalar_one() == "on"
    else:
        cache = session.execute(text("PRAGMA cache_size")).scalar_one()
        rebuild_rollups(session, config=cfg)
        assert session.execute(text("PRAGMA cache_size")).scalar_one() == cache
    assert session.scalar(select(MetricDaily.person_id).limit(1)) is not None


def test_postgres_aggregations_can_run_in_parallel_workers(
    session: Session, engine_name: str
) -> None:
    """The helper tables are regular (unlogged) tables, not temp tables: a query reading a
    temp table is parallel-restricted, so the 5M-record aggregation would run on one core.
    With parallel plans made cheap, the staged `CREATE TABLE … AS` gets a Gather node, and the
    part holds what the aggregation returns."""
    if engine_name != "postgresql":
        pytest.skip("parallel query is PostgreSQL's")
    cfg = _config()
    _populate(session, cfg)
    catalog = build_catalog(cfg)
    work = SqlRollups(session, catalog, Directory(session, cfg))
    conn = session.connection()
    try:
        query = work.aggregate(
            "activities", "occurred_at", catalog.bases_for("activities", "occurred_at")
        )
        assert query is not None
        for knob in ("parallel_setup_cost", "parallel_tuple_cost", "min_parallel_table_scan_size"):
            conn.exec_driver_sql(f"SET LOCAL {knob} = 0")  # parallel plans for a tiny table
        plan = [row[0] for row in conn.exec_driver_sql(f"EXPLAIN CREATE TEMP TABLE x AS {query}")]
        assert work.owner in _parallel_part(plan)  # joined with the records in the workers
        rows = conn.exec_driver_sql(f"SELECT * FROM ({query}) q").all()  # unnamed columns
        stage = StagedRollups(conn)
        assert rows and stage.add(query) == len(rows)
        staged = conn.exec_driver_sql(
            f"SELECT person_id, metric, day, value, team_key FROM {stage.tables[0]}"
        ).all()
        assert sorted(staged) == sorted(rows)
        # the staged rows are read in parallel workers too (the merge's summaries)
        plan = [
            r[0] for r in conn.exec_driver_sql(f"EXPLAIN SELECT count(*) FROM {stage.tables[0]}")
        ]
        assert stage.tables[0] in _parallel_part(plan)
        stage.drop()
    finally:
        work.close()
    session.rollback()


def _parallel_part(plan: list[str]) -> str:
    """The lines of an EXPLAIN below its Gather nodes (what the workers run)."""
    below, depth = [], None
    for line in plan:
        indent = len(line) - len(line.lstrip(" ->"))
        if depth is not None and indent <= depth:
            depth = None
        if depth is not None:
            below.append(line)
        elif "Gather" in line:
            depth = indent
    return "\n".join(below)


def _catalog_definitions(session: Session) -> list[tuple[str, ...]]:
    """The keys, foreign keys and indexes of metric_daily, by name and definition."""
    return sorted(
        tuple(row)
        for row in session.execute(
            text(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'metric_daily'::regclass UNION ALL "
                "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                "WHERE indrelid = 'metric_daily'::regclass"
            )
        )
    )


def _team_index_oid(session: Session) -> int:
    return int(session.execute(text("SELECT 'ix_metric_daily_team'::regclass::oid")).scalar_one())


def test_when_most_rows_differ_postgres_replaces_them_all(
    session: Session, engine_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bulk path: TRUNCATE and load, with keys, indexes and the foreign key re-created
    as they were (the foreign key still checked, the cascade still there)."""
    if engine_name != "postgresql":
        pytest.skip("the bulk replacement is PostgreSQL's")
    monkeypatch.setattr(rollup_merge, "BULK_ROWS", 0)
    cfg = _config()
    org = _populate(session, cfg)
    rebuild_rollups(session, config=cfg, sql=False)
    expected = snapshot(session)
    definitions, index = _catalog_definitions(session), _team_index_oid(session)
    session.execute(update(MetricDaily).values(value=MetricDaily.value + 1))
    session.execute(text("SET LOCAL lock_timeout = '7s'"))

    result = rebuild_rollups(session, config=cfg)
    assert session.execute(text("SHOW lock_timeout")).scalar_one() == "7s"
    assert snapshot(session) == expected
    assert result.rows_changed == 2 * len(expected)  # every row deleted and inserted
    assert _catalog_definitions(session) == definitions
    assert _team_index_oid(session) != index  # re-created: the bulk path ran
    # the foreign key is enforced and cascades
    session.execute(text("SAVEPOINT fk"))
    with pytest.raises(IntegrityError):
        session.execute(
            text(
                "INSERT INTO metric_daily (person_id, metric, day, value) "
                "VALUES (-1, 'x', '2026-01-01', 1)"
            )
        )
    session.execute(text("ROLLBACK TO SAVEPOINT fk"))
    dana = org.person["dana"]
    session.execute(delete(Person).where(Person.id == dana))
    remaining = session.scalar(select(func.count()).where(MetricDaily.person_id == dana))
    assert remaining == 0
    session.rollback()


def test_the_bulk_path_gives_way_to_readers(
    session: Session, engine_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader holding metric_daily past the lock wait: the rebuild writes the differences
    instead (the same result), and the reader is not disturbed."""
    if engine_name != "postgresql":
        pytest.skip("the bulk replacement is PostgreSQL's")
    monkeypatch.setattr(rollup_merge, "LOCK_WAIT", "50ms")
    monkeypatch.setattr(rollup_merge, "BULK_ROWS", 0)
    cfg = _config()
    _populate(session, cfg)
    rebuild_rollups(session, config=cfg, sql=False)
    session.commit()  # the first rebuild replaced everything, locking the table until now
    expected = snapshot(session)
    index = _team_index_oid(session)
    session.execute(update(MetricDaily).values(value=MetricDaily.value + 1))
    bind = session.get_bind()
    with bind.connect() as reader:
        reader.execute(text("SELECT count(*) FROM metric_daily")).scalar_one()  # ACCESS SHARE
        session.execute(text("SET LOCAL lock_timeout = '7s'"))
        result = rebuild_rollups(session, config=cfg)
        assert session.execute(text("SHOW lock_timeout")).scalar_one() == "7s"
        assert reader.execute(text("SELECT 1")).scalar_one() == 1
        reader.rollback()
    assert snapshot(session) == expected
    assert result.rows_changed == 2 * len(expected)
    assert _team_index_oid(session) == index  # the differences were written in place
    session.rollback()
