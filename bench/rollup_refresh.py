"""Rollup refresh: incremental after one day's sync vs a full rebuild (both rolled back).

Targets from the issue: incremental refresh of one day's changes < 200 ms on 5M activities;
full rebuild of 5M activities < 20 s. `--engine postgresql` runs the same measurements on a
private PostgreSQL server holding a copy of the cached org (`bench/pg.py`).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from bench.common import Context, Result
from bench.demo_org import END, DemoOrg, bench_config, demo_org
from metrics.config import MetricsConfig
from metrics.rollups import rebuild_rollups, refresh_rollups
from metrics.store import make_engine, make_session_factory


@contextmanager
def _database(ctx: Context, org: DemoOrg) -> Iterator[str]:
    """The URL of the org on the chosen engine (PostgreSQL: a server running meanwhile)."""
    if ctx.engine == "sqlite":
        yield org.url
        return
    from bench.pg import served_org

    with served_org(org, ctx.scale) as url:
        yield url


def _server_cpu(session) -> float:  # type: ignore[no-untyped-def]
    """CPU seconds of the PostgreSQL backend serving `session` (0 on SQLite: in-process)."""
    if session.connection().dialect.name == "sqlite":
        return 0.0
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _mark_day(session, day: dt.date, owners: int | None) -> int:  # type: ignore[no-untyped-def]
    """Mark (owner, UTC day) dirty as the sync would for every owner with activity that day
    (or only the first `owners` of them), and drop those people's rollups of that day."""
    limit = "" if owners is None else f" LIMIT {owners}"
    lo = dt.datetime.combine(day, dt.time(), dt.UTC)
    sqlite = session.connection().dialect.name == "sqlite"
    session.execute(
        text(
            "INSERT INTO rollup_dirty (crm_user_id, day) SELECT DISTINCT owner_id, :d "
            "FROM activities WHERE occurred_at >= :lo AND occurred_at < :hi "
            f"AND owner_id IS NOT NULL{limit}"
        ),
        {
            "d": day.isoformat() if sqlite else day,
            "lo": f"{day.isoformat()} 00:00:00" if sqlite else lo,
            "hi": f"{(day + dt.timedelta(days=1)).isoformat()} 00:00:00"
            if sqlite
            else lo + dt.timedelta(days=1),
        },
    )
    # The day's records are new to the rollups, as after a sync of that day: the marked
    # people's rows of local day `day` go (the refresh must write them again; without this
    # it would find every recomputed row as it was and write nothing).
    session.execute(
        text(
            "DELETE FROM metric_daily WHERE day = :d AND person_id IN (SELECT u.person_id "
            "FROM crm_users u JOIN rollup_dirty r ON r.crm_user_id = u.id)"
        ),
        {"d": day.isoformat() if sqlite else day},
    )
    return int(session.execute(text("SELECT count(*) FROM rollup_dirty")).scalar_one())


def run(ctx: Context) -> list[Result]:
    org = demo_org(ctx.scale)
    with _database(ctx, org) as url:
        return _measure(url, org, ctx.engine)


def _measure(url: str, org: DemoOrg, engine_name: str) -> list[Result]:
    config = bench_config(org.reps)
    engine = make_engine(url)
    day = (END - dt.timedelta(days=2)).date()  # a Thursday
    results = []
    note = f"{org.activities:,} activities, {engine_name}"
    tag = "" if engine_name == "sqlite" else f" ({engine_name})"
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
                    label + tag,
                    ms,
                    "ms",
                    "< 200 ms",
                    ms < 200,
                    f"median of 3 (first {times[0]:.0f} ms; CPU {sorted(cpu)[1]:.0f} ms); "
                    f"{marks} marks, {result.person_days} person-days, "
                    f"{result.rows_written:,} rows written, {note}; "
                    f"load {os.getloadavg()[0]:.1f}",
                )
            )
        # A repair of a correct table; on PostgreSQL also a rebuild that must write every
        # row (an empty table, as after a changed metric definition: the bulk path). SQLite
        # always fills a new table, so its second case would measure the same work.
        cases = [("full rebuild", False)]
        if engine_name != "sqlite":
            cases.append(("full rebuild, every row new", True))
        for label, empty in cases:
            results.append(_rebuild(factory, config, label + tag, note, empty=empty))
    finally:
        engine.dispose()
    return results


def _rebuild(
    factory: sessionmaker[Session], config: MetricsConfig, label: str, note: str, *, empty: bool
) -> Result:
    """One timed full rebuild, rolled back (`empty`: metric_daily emptied first, untimed)."""
    with factory() as session:
        if empty:
            session.execute(text("DELETE FROM metric_daily"))
        load = os.getloadavg()[0]
        server_cpu = _server_cpu(session)
        began, began_cpu = time.perf_counter(), time.process_time()
        result = rebuild_rollups(session, config=config)
        seconds = time.perf_counter() - began
        cpu_seconds = time.process_time() - began_cpu  # incl. SQLite's sorter thread
        server_seconds = _server_cpu(session) - server_cpu
        session.rollback()
    cpu_note = f"CPU {cpu_seconds:.1f} s (this process)"
    if result.rows_changed is not None:
        cpu_note += f" + {server_seconds:.1f} s (server backend)"
        note += f"; {result.rows_changed:,} rows changed"
    return Result(
        "rollup_refresh",
        label,
        seconds,
        "s",
        "< 20 s",
        seconds < 20,
        f"{result.rows_written:,} rows, {cpu_note}, {note}; load {load:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at the end",
    )
