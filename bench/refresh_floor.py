"""The least an every-owner whole-day rollup refresh must do, on SQLite: read (and group)
the records it recomputes from. No target: these figures bound what any design of the
refresh could reach on this machine (bench/RESULTS.md, run F).

Each mapped owner reads the activities of their person's local days that overlap the
refresh bench's UTC day, through `ix_activities_owner_occurred` with per-owner bounds —
the records `refresh_rollups` reads for the same marks — then the same rows grouped by
(person, local day, kind, outcome, direction) in one statement, and meetings booked from
the partial index (`CROSS JOIN` keeps SQLite's join order: owners outside, as the refresh
seeks them). Read-only, warm cache, median of 7 after a warm-up.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from zoneinfo import ZoneInfo

from bench.common import Context, Result, median
from bench.demo_org import END, bench_config, demo_org

_WINDOWS = """
CREATE TEMP TABLE refresh_window (
    owner_id INTEGER PRIMARY KEY, person_id INTEGER, offset_seconds INTEGER, lo TEXT, hi TEXT
)"""

_JOIN = (
    "FROM temp.refresh_window w CROSS JOIN activities a ON a.owner_id = w.owner_id "
    "AND a.occurred_at >= w.lo AND a.occurred_at < w.hi WHERE NOT a.deleted"
)

QUERIES = {
    "fetch the day's activities": (
        "SELECT a.owner_id, a.occurred_at, a.kind, a.outcome, a.direction, "
        f"a.duration_seconds {_JOIN}"
    ),
    "the same, grouped by person, local day, kind, outcome, direction": (
        "SELECT w.person_id, date(a.occurred_at, w.offset_seconds || ' seconds'), a.kind, "
        f"a.outcome, a.direction, count(*), sum(a.duration_seconds) {_JOIN} "
        "GROUP BY 1, 2, 3, 4, 5"
    ),
    "meetings booked (partial index)": (
        "SELECT a.owner_id, a.booked_at, a.kind FROM temp.refresh_window w CROSS JOIN activities a "
        "ON a.owner_id = w.owner_id AND a.booked_at >= w.lo AND a.booked_at < w.hi "
        "WHERE a.booked_at IS NOT NULL AND NOT a.deleted"
    ),
}


def _stamp(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _windows(con: sqlite3.Connection, day: dt.date, default_zone: str) -> int:
    """Each mapped owner's UTC bounds of their person's local days overlapping `day`."""
    rows = []
    found = con.execute(
        "SELECT u.id, p.id, coalesce(p.timezone_override, p.slack_timezone) "
        "FROM crm_users u JOIN people p ON p.id = u.person_id"
    )
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    for owner_id, person_id, zone_name in found:
        zone = ZoneInfo(zone_name or default_zone)
        first = start.astimezone(zone).date()
        last = (start + dt.timedelta(days=1, microseconds=-1)).astimezone(zone).date()
        lo = dt.datetime.combine(first, dt.time(), zone)
        hi = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone)
        offset = (start + dt.timedelta(hours=12)).astimezone(zone).utcoffset()
        assert offset is not None
        rows.append((owner_id, person_id, int(offset.total_seconds()), _stamp(lo), _stamp(hi)))
    con.execute(_WINDOWS)
    con.executemany("INSERT INTO temp.refresh_window VALUES (?, ?, ?, ?, ?)", rows)
    return len(rows)


def run(ctx: Context) -> list[Result]:
    org = demo_org(ctx.scale)
    day = (END - dt.timedelta(days=2)).date()  # rollup_refresh's day
    path = org.url.removeprefix("sqlite:///")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        con.execute("PRAGMA cache_size = -262144")
        owners = _windows(con, day, bench_config(org.reps).org.timezone)
        results = []
        for label, sql in QUERIES.items():
            rows = len(con.execute(sql).fetchall())  # warm-up
            samples = []
            for _ in range(7):
                began = time.perf_counter()
                con.execute(sql).fetchall()
                samples.append((time.perf_counter() - began) * 1000)
            results.append(
                Result(
                    "refresh_floor",
                    label,
                    median(samples),
                    "ms",
                    note=f"{rows:,} rows, {owners:,} owners, UTC day {day}; median of 7 "
                    f"(min {min(samples):.0f}, max {max(samples):.0f})",
                )
            )
    finally:
        con.close()
    return results
