"""Writing computed rollups: bulk inserts, and an incremental refresh's changed rows only.

An incremental refresh recomputes every (person, local day) pair its dirty marks touch, but
most of those rows come out as they were: a UTC day overlaps two local days, and the other
one rarely changed. `write_changes` reads the pairs' current rows (by person, or by team
when most people are dirty), deletes the rows that vanished or differ (values compared up
to `rollup_merge.SAME`) and inserts the new or different ones — instead of
deleting and re-inserting everything (on SQLite ~20 primary-key seeks a pair for the delete
alone; on PostgreSQL every re-inserted key also meets its deleted version in the unique
check). Rows of bases the catalog no longer has are left to the rebuild a definition change
needs anyway.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from metrics.lookup import team_keys
from metrics.rollup_merge import COLUMNS, SAME
from metrics.rollup_scan import Directory, Sums

Key = tuple[int, str, Any]  # (person, metric, stored day: ISO text on SQLite, a date else)
RANGES = "tmp_rollup_ranges"
# Read current rows by team when pairs x BY_TEAM_SHARE >= people x days
BY_TEAM_SHARE = 4


def rollup_rows(
    values: Sums, pairs: Iterable[tuple[int, dt.date]], directory: Directory, *, sqlite: bool
) -> Iterator[tuple[Any, ...]]:
    """The non-zero bases of `pairs` as metric_daily rows, in primary-key order."""
    days: dict[int, list[dt.date]] = defaultdict(list)
    for person_id, day in pairs:
        days[person_id].append(day)
    for person_id in sorted(days):
        rows = []
        for day in days[person_id]:
            team = directory.team_on(person_id, day)
            stored_day: Any = day.isoformat() if sqlite else day
            for base, value in values.get((person_id, day), {}).items():
                if value != 0:
                    rows.append((person_id, base, stored_day, value, team))
        rows.sort(key=lambda r: (r[1], r[2]))
        yield from rows


def insert_rows(
    session: Session, rows: Iterable[tuple[Any, ...]], *, table: str = "metric_daily"
) -> int:
    """Write (person, metric, day, value, team) rows with the driver: COPY on PostgreSQL,
    executemany on SQLite (SQLAlchemy's bulk insert costs microseconds a row in parameter
    processing); how many."""
    conn = session.connection()
    written = 0
    if conn.dialect.name != "sqlite":
        dbapi: Any = conn.connection.driver_connection
        with (
            dbapi.cursor() as cursor,
            cursor.copy(f"COPY {table} ({COLUMNS}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
                written += 1
        return written
    sql = f"INSERT INTO {table} ({COLUMNS}) VALUES (?, ?, ?, ?, ?)"
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= 20000:
            conn.exec_driver_sql(sql, batch)
            written, batch = written + len(batch), []
    if batch:
        conn.exec_driver_sql(sql, batch)
        written += len(batch)
    return written


def write_changes(
    session: Session,
    values: Sums,
    pairs: list[tuple[int, dt.date]],
    directory: Directory,
    bases: list[str],
) -> tuple[int, int]:
    """Make the `bases` rows of `pairs` in metric_daily equal `values` (zeros are no row),
    writing only what differs; (rows deleted, rows inserted)."""
    conn = session.connection()
    sqlite = conn.dialect.name == "sqlite"
    new = {
        (person, metric, day): (value, team)
        for person, metric, day, value, team in rollup_rows(values, pairs, directory, sqlite=sqlite)
    }
    old = _current(conn, pairs, bases, sqlite=sqlite)
    gone = sorted(key for key, row in old.items() if not _same(new.get(key), row))
    fresh = [(*key, *row) for key, row in new.items() if not _same(old.get(key), row)]
    _delete_keys(conn, gone, sqlite=sqlite)
    return len(gone), insert_rows(session, fresh)


def _same(a: tuple[float, str | None] | None, b: tuple[float, str | None] | None) -> bool:
    """Whether two (value, team) rows are the same, values up to `rollup_merge.SAME`."""
    if a is None or b is None:
        return a is b
    return a[1] == b[1] and abs(a[0] - b[0]) <= SAME * max(abs(a[0]), abs(b[0]))


def _ranges(pairs: list[tuple[int, dt.date]]) -> list[tuple[int, dt.date, dt.date]]:
    """(person, first, last) runs of consecutive days covering `pairs`."""
    runs: list[tuple[int, dt.date, dt.date]] = []
    for person, day in sorted(set(pairs)):
        if runs and runs[-1][0] == person and (day - runs[-1][2]).days == 1:
            runs[-1] = (person, runs[-1][1], day)
        else:
            runs.append((person, day, day))
    return runs


def _current(
    conn: Connection, pairs: list[tuple[int, dt.date]], bases: list[str], *, sqlite: bool
) -> dict[Key, tuple[float, str | None]]:
    """The rows metric_daily holds now for `pairs` and `bases`: by person (a primary-key
    range per run of a person's days and base), or — when the pairs cover a good share of
    everyone's rows on their days, as after a sync of a whole day — by team (`_by_team`)."""
    if not pairs or not bases:
        return {}
    days = {d for _, d in pairs}
    people = conn.exec_driver_sql("SELECT count(*) FROM people").scalar_one()
    if len(pairs) * BY_TEAM_SHARE >= people * len(days):
        return _by_team(conn, set(pairs), days, bases, sqlite=sqlite)
    runs = _ranges(pairs)
    names = _quoted(bases)
    select = (
        "SELECT m.person_id, m.metric, m.day, m.value, m.team_key FROM {ranges} "
        "JOIN metric_daily m ON m.person_id = r.person_id AND m.day >= r.lo AND m.day <= r.hi "
        f"WHERE m.metric IN ({names})"
    )
    dbapi: Any = conn.connection.driver_connection
    cursor = dbapi.cursor()
    try:
        if sqlite:
            cursor.execute(f"DROP TABLE IF EXISTS temp.{RANGES}")
            cursor.execute(f"CREATE TEMP TABLE {RANGES} (person_id INTEGER, lo TEXT, hi TEXT)")
            cursor.executemany(
                f"INSERT INTO {RANGES} VALUES (?, ?, ?)",
                [(p, lo.isoformat(), hi.isoformat()) for p, lo, hi in runs],
            )
            cursor.execute(select.format(ranges=f"{RANGES} r"))
        else:
            cursor.execute(
                select.format(
                    ranges="unnest(%s::integer[], %s::date[], %s::date[]) AS r(person_id, lo, hi)"
                ),
                ([p for p, _, _ in runs], [lo for _, lo, _ in runs], [hi for _, _, hi in runs]),
            )
        found = {(p, m, d): (v, t) for p, m, d, v, t in cursor.fetchall()}
        if sqlite:
            cursor.execute(f"DROP TABLE temp.{RANGES}")
        return found
    finally:
        cursor.close()


def _by_team(
    conn: Connection,
    pairs: set[tuple[int, dt.date]],
    days: set[dt.date],
    bases: list[str],
    *,
    sqlite: bool,
) -> dict[Key, tuple[float, str | None]]:
    """The pairs' rows read from the covering team index: every team's rows of the bases on
    each run of the pairs' days (an index range per team, base and run), then kept if their
    (person, day) is a pair. At 10,000 people and a day's pairs for nearly all of them:
    ~50 ms on SQLite against ~230 ms for ~60,000 primary-key ranges (PostgreSQL: 85 / 240)."""
    teams = _quoted(team_keys(conn))
    names = _quoted(bases)
    stored = {(p, d.isoformat()) for p, d in pairs} if sqlite else pairs
    found: dict[Key, tuple[float, str | None]] = {}
    cursor: Any = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        for first, last in day_ranges(days):
            lo, hi = (f"'{d.isoformat()}'" for d in (first, last))
            if not sqlite:
                lo, hi = f"DATE {lo}", f"DATE {hi}"
            where = f"metric IN ({names}) AND day >= {lo} AND day <= {hi}"
            columns = "SELECT person_id, metric, day, value, team_key FROM metric_daily"
            teamed = [f"{columns} WHERE team_key IN ({teams}) AND {where}"] if teams else []
            for sql in [*teamed, f"{columns} WHERE team_key IS NULL AND {where}"]:
                cursor.execute(sql)
                for person, metric, day, value, team in cursor.fetchall():
                    if (person, day) in stored:
                        found[(person, metric, day)] = (value, team)
    finally:
        cursor.close()
    return found


def day_ranges(days: Iterable[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Contiguous [first, last] ranges covering `days`."""
    ranges: list[tuple[dt.date, dt.date]] = []
    for day in sorted(set(days)):
        if ranges and (day - ranges[-1][1]).days <= 1:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def _quoted(values: Iterable[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _delete_keys(conn: Connection, keys: list[Key], *, sqlite: bool) -> None:
    if not keys:
        return
    if sqlite:
        conn.exec_driver_sql(
            "DELETE FROM metric_daily WHERE person_id = ? AND metric = ? AND day = ?", keys
        )
        return
    conn.exec_driver_sql(
        "DELETE FROM metric_daily m USING unnest(%s::integer[], %s::text[], %s::date[]) "
        "AS k(person_id, metric, day) WHERE m.person_id = k.person_id "
        "AND m.metric = k.metric AND m.day = k.day",
        ([k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]),
    )
