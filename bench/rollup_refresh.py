"""Rollup refresh: incremental after one day's sync vs a full rebuild (both rolled back).

Targets from the issue: incremental refresh of one day's changes < 200 ms on 5M activities;
full rebuild of 5M activities < 20 s.
"""

from __future__ import annotations

import datetime as dt
import os
import time

from sqlalchemy import text

from bench.common import Context, Result
from bench.demo_org import END, bench_config, demo_org
from metrics.rollups import rebuild_rollups, refresh_rollups
from metrics.store import make_engine, make_session_factory


def _mark_day(session, day: dt.date, owners: int | None) -> int:  # type: ignore[no-untyped-def]
    """Mark (owner, UTC day) dirty as the sync would for every owner with activity that day
    (or only the first `owners` of them)."""
    limit = "" if owners is None else f" LIMIT {owners}"
    session.execute(
        text(
            "INSERT INTO rollup_dirty (crm_user_id, day) SELECT DISTINCT owner_id, :d "
            "FROM activities WHERE occurred_at >= :lo AND occurred_at < :hi "
            f"AND owner_id IS NOT NULL{limit}"
        ),
        {
            "d": day.isoformat(),
            "lo": f"{day.isoformat()} 00:00:00",
            "hi": f"{(day + dt.timedelta(days=1)).isoformat()} 00:00:00",
        },
    )
    return int(session.execute(text("SELECT count(*) FROM rollup_dirty")).scalar_one())


def run(ctx: Context) -> list[Result]:
    org = demo_org(ctx.scale)
    config = bench_config(org.reps)
    engine = make_engine(org.url)
    day = (END - dt.timedelta(days=2)).date()  # a Thursday
    results = []
    note = f"{org.activities:,} activities, sqlite"
    try:
        factory = make_session_factory(engine)
        for label, owners in (
            ("incremental, 200 owners x 1 day", 200),
            ("incremental, every owner x 1 day", None),
        ):
            times, cpu = [], []
            for _ in range(3):  # median of 3 (the first run in a process also compiles SQL)
                with factory() as session:
                    marks = _mark_day(session, day, owners)
                    began, began_cpu = time.perf_counter(), time.process_time()
                    result = refresh_rollups(session, config=config)
                    times.append((time.perf_counter() - began) * 1000)
                    cpu.append((time.process_time() - began_cpu) * 1000)
                    session.rollback()
            ms = sorted(times)[1]
            results.append(
                Result(
                    "rollup_refresh",
                    label,
                    ms,
                    "ms",
                    "< 200 ms",
                    ms < 200,
                    f"median of 3 (first {times[0]:.0f} ms; CPU {sorted(cpu)[1]:.0f} ms); "
                    f"{marks} marks, {result.person_days} person-days, {note}; "
                    f"load {os.getloadavg()[0]:.1f}",
                )
            )
        with factory() as session:
            load = os.getloadavg()[0]
            began, began_cpu = time.perf_counter(), time.process_time()
            result = rebuild_rollups(session, config=config)
            seconds = time.perf_counter() - began
            cpu_seconds = time.process_time() - began_cpu  # incl. SQLite's sorter thread
            session.rollback()
        results.append(
            Result(
                "rollup_refresh",
                "full rebuild",
                seconds,
                "s",
                "< 20 s",
                seconds < 20,
                f"{result.rows_written:,} rows, {result.person_days:,} person-days, CPU "
                f"{cpu_seconds:.1f} s, {note}; load {load:.1f} at start",
            )
        )
    finally:
        engine.dispose()
    return results
