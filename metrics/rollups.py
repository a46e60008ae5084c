"""Daily rollups: one `metric_daily` row per (person, base, local day), kept current.

`refresh_rollups` consumes `rollup_dirty` (CRM owner, UTC day) marks written by the sync:
each UTC day is expanded to the local days it overlaps in the owner's person's time zone,
exactly those (person, local day) pairs are recomputed from activities and deals, the rows
that differ are written (`metrics.rollup_writes.write_changes`) and the processed marks are
deleted — all in the caller's transaction (a Python scan of those records: `_scan_dirty`).
`rebuild_rollups` recomputes everything (repair, or after people/owner mappings change),
inside the database where it can (`metrics.rollup_sql`).

Rows belong to people (`crm_users.person_id`); records whose owner maps to no person are not
rolled up and are counted in the result. `metric_daily.team_key` is the team the person was
on that day (`team_memberships`). Zero values are not stored: a missing row means 0.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from metrics.catalog import Catalog, Source, build_catalog
from metrics.config import MetricsConfig
from metrics.models import RollupDirty
from metrics.rollup_merge import COLUMNS, StagedRollups
from metrics.rollup_scan import PRIMARY, Directory, Scanner
from metrics.rollup_sql import SqlRollups, postgres_tuned, sqlite_tuned
from metrics.rollup_table import fresh_table, swap_in
from metrics.rollup_writes import day_ranges, insert_rows, rollup_rows, write_changes


@dataclass(frozen=True)
class RefreshResult:
    person_days: int | None  # (person, local day) pairs recomputed (rebuild: not counted)
    rows_written: int  # metric_daily rows inserted: new or changed (rebuild: all it holds)
    dirty_processed: int  # rollup_dirty marks consumed
    unmapped_records: int  # records (or dirty owner-days, incrementally) with no person
    rows_changed: int | None = None  # rebuild on PostgreSQL: rows deleted + inserted


REBUILD_CACHE_KIB = 16_384  # SQLite: sorts in 16 MiB runs (`rollup_sql.sqlite_tuned`)

P = ParamSpec("P")
T = TypeVar("T")


def _without_cyclic_gc(work: Callable[P, T]) -> Callable[P, T]:
    """Run `work` with Python's cyclic garbage collector paused (restored after, also on
    errors; left alone if something else had paused it). Rollups allocate tuples by the
    hundred thousand — fetched rows, keys, row values — none in reference cycles, yet each
    ~700 allocations trigger a collection and now and then one of the whole heap: a
    whole-day refresh at 10,000 reps took 640-760 ms with it, 570-615 ms without. The
    collector is process-wide: other threads go without it for as long (their garbage is
    collected when it resumes)."""

    @functools.wraps(work)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return work(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return run


@_without_cyclic_gc
def refresh_rollups(
    session: Session, *, config: MetricsConfig, catalog: Catalog | None = None
) -> RefreshResult:
    """Recompute exactly the (person, local day) rollups that `rollup_dirty` marks touch."""
    catalog = catalog or build_catalog(config)
    marks = [(u, d) for u, d in session.execute(select(RollupDirty.crm_user_id, RollupDirty.day))]
    if not marks:
        return RefreshResult(0, 0, 0, 0)
    directory = Directory(session, config, owners=sorted({u for u, _ in marks}))
    dirty: dict[int, set[dt.date]] = defaultdict(set)  # person -> local days
    utc_days: dict[int, set[dt.date]] = defaultdict(set)  # person -> dirty UTC days
    unmapped = 0
    for user_id, day in marks:
        person_id = directory.owner_person.get(user_id)
        if person_id is None:
            unmapped += 1
            continue
        dirty[person_id] |= directory.local_days_of_utc_day(person_id, day)
        utc_days[person_id].add(day)
    keep = {(p, d) for p, days in dirty.items() for d in days}
    pairs = sorted(keep)
    with sqlite_tuned(session):
        scanner = _scan_dirty(session, catalog, directory, dirty, utc_days)
        _, written = write_changes(session, scanner.values, pairs, directory, sorted(catalog.bases))
    _delete_marks(session, marks)
    return RefreshResult(len(pairs), written, len(marks), unmapped)


def _scan_dirty(
    session: Session,
    catalog: Catalog,
    directory: Directory,
    dirty: dict[int, set[dt.date]],
    utc_days: dict[int, set[dt.date]],
) -> Scanner:
    """The Python scan of the dirty (person, local day) pairs, per merged range of UTC days."""
    scanner = Scanner(session, catalog, directory, None)
    assigned: set[tuple[int, dt.date]] = set()
    for first, last in day_ranges(d for days in utc_days.values() for d in days):
        # Each (person, local day) is computed in exactly one range's scan, else a record
        # read by two overlapping windows would be counted twice.
        people = [p for p, days in utc_days.items() if any(first <= d <= last for d in days)]
        todo = {
            (p, day)
            for p in people
            for day in dirty[p]
            if first - dt.timedelta(days=1) <= day <= last + dt.timedelta(days=1)
        } - assigned
        if not todo:
            continue
        assigned |= todo
        spans = [directory.utc_span(p, day) for p, day in todo]
        scanner.keep = todo
        owners = sorted({o for p, _ in todo for o in directory.person_owners[p]})
        lo, hi = min(s[0] for s in spans), max(s[1] for s in spans)
        scanner.scan(owners=owners, lo=lo, hi=hi)
    return scanner


def _record_kinds(catalog: Catalog) -> list[tuple[Source, str]]:
    """(source, date field) pairs, each source's primary field first (the order of the
    progress lines and of PostgreSQL's staged parts; SQLite aggregates them in one)."""
    sources: tuple[Source, ...] = ("activities", "deals")
    return [
        (s, f)
        for s in sources
        for f in sorted(catalog.date_fields(s), key=lambda f: f not in PRIMARY)
    ]


def _delete_marks(session: Session, marks: list[tuple[int, dt.date]]) -> None:
    """DELETE the processed `rollup_dirty` (owner, UTC day) marks. SQLite: one statement per
    mark, a primary-key seek (a row-value IN over pairs is not indexed and would scan the
    table). PostgreSQL: one statement joining the marks as two unnest()ed arrays (one round
    trip, index seeks, instead of a pipelined statement per mark)."""
    if not marks:
        return
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(
            "DELETE FROM rollup_dirty WHERE crm_user_id = ? AND day = ?",
            [(key, day.isoformat()) for key, day in marks],
        )
        return
    conn.exec_driver_sql(
        "DELETE FROM rollup_dirty t USING unnest(%s::integer[], %s::date[]) AS k(key, day) "
        "WHERE t.crm_user_id = k.key AND t.day = k.day",
        ([key for key, _ in marks], [day for _, day in marks]),
    )


def rebuild_rollups(
    session: Session,
    *,
    config: MetricsConfig,
    catalog: Catalog | None = None,
    sql: bool = True,
    progress: Callable[[str], None] | None = None,
) -> RefreshResult:
    """Recompute every rollup from scratch and clear all dirty marks (repair command).

    Record kinds whose bases read few distinct field values are aggregated inside the
    database (`metrics.rollup_sql`), the others (and all with `sql=False`) by the Python
    scan. `progress` is told each step as it starts."""
    say = progress or (lambda _step: None)
    catalog = catalog or build_catalog(config)
    marks = session.scalar(select(func.count()).select_from(RollupDirty)) or 0
    directory = Directory(session, config)
    kinds = _record_kinds(catalog)
    with (
        sqlite_tuned(session, threads=2, kib=REBUILD_CACHE_KIB, zero_freed=False),
        postgres_tuned(session),
    ):
        # SQLite fills a new table without secondary indexes and swaps it in at the end
        # (`metrics.rollup_table`: emptying the old one costs a row-by-row delete).
        # PostgreSQL stages the rows, then writes only those that differ, or all of them
        # when most differ (`metrics.rollup_merge`).
        conn = session.connection()
        sqlite = conn.dialect.name == "sqlite"
        # First a DML statement: the SQLite driver opens the transaction only before one,
        # and DDL issued outside a transaction would commit on its own.
        session.execute(delete(RollupDirty))
        changed, staged = None, None
        if sqlite:
            say("creating a new metric_daily")
            target = fresh_table(conn)
        else:
            staged = StagedRollups(conn)
            target = staged.table()
        written, leftover = 0, set(kinds)
        if sql:
            work = SqlRollups(session, catalog, directory)
            try:
                if staged is None:
                    written += _insert_merged(work, kinds, leftover, target, say)
                else:
                    for source, date_field in kinds:
                        say(f"{source} by {date_field} (in the database)")
                        bases = catalog.bases_for(source, date_field)
                        query = work.aggregate(source, date_field, bases)
                        if query is not None:
                            leftover.discard((source, date_field))
                            written += staged.add(query)
            finally:
                work.close()
        scanner = Scanner(session, catalog, directory, None)
        if leftover:
            say(", ".join(f"{s} by {f}" for s, f in sorted(leftover)) + " (in Python)")
            # owner-less records count as unmapped
            scanner.scan(owners=None, lo=None, hi=None, only=leftover)
            pairs = scanner.values.keys()
            rows = rollup_rows(scanner.values, pairs, directory, sqlite=staged is None)
            written += insert_rows(session, rows, table=target)
        if staged is None:
            say("indexing and swapping in the new table")
            swap_in(conn, target)
        else:
            say("writing the rows that changed")
            changed = staged.merge()
        unmapped = scanner.unmapped + (_unmapped(session, catalog, leftover) if sql else 0)
    return RefreshResult(None, written, int(marks), unmapped, changed)


def _insert_merged(
    work: SqlRollups,
    kinds: list[tuple[Source, str]],
    leftover: set[tuple[Source, str]],
    target: str,
    say: Callable[[str], None],
) -> int:
    """SQLite: insert the rows of every kind SQL can aggregate in one statement, in the new
    table's key order; those kinds leave `leftover`. The rows inserted."""
    catalog = work.catalog
    everything = [(s, f, catalog.bases_for(s, f)) for s, f in kinds]
    names = sorted(b.name for _, _, bases in everything for b in bases)
    say(", ".join(f"{s} by {f}" for s, f in kinds) + " (in the database)")
    merged = work.merged(everything, names)
    if merged is None:
        return 0
    query, covered = merged
    leftover.difference_update(covered)
    return int(work.conn.exec_driver_sql(f"INSERT INTO {target} ({COLUMNS}) {query}").rowcount)


def _unmapped(session: Session, catalog: Catalog, scanned: set[tuple[Source, str]]) -> int:
    """Live records placed by their first date field whose owner maps to no person, for
    the kinds not already counted by a Python scan (index seeks on the owner)."""
    conn = session.connection()
    total = 0
    primary: tuple[tuple[Source, str], ...] = (
        ("activities", "occurred_at"),
        ("deals", "created_at"),
    )
    for source, date_field in primary:
        if (source, date_field) in scanned or date_field not in catalog.date_fields(source):
            continue
        live = f"NOT a.deleted AND a.{date_field} IS NOT NULL"
        total += conn.exec_driver_sql(
            f"SELECT (SELECT count(*) FROM {source} a WHERE a.owner_id IS NULL AND {live}) + "
            f"(SELECT count(*) FROM crm_users u CROSS JOIN {source} a "
            f"WHERE u.person_id IS NULL AND a.owner_id = u.id AND {live})"
        ).scalar_one()
    return int(total)
