"""Rollups computed inside the database: INSERT … SELECT … GROUP BY over the records.

The catalog's bases are Python callables over a few fields of a record (kind, outcome,
direction; amount and currency ...). Most records share a handful of distinct field values
(*signatures*), so for each (source, date field):

1. ``SELECT DISTINCT`` the fields the bases read — amounts and timestamps only as NULL or
   not where the bases declare so, their values entering as per-record terms
   (`metrics.rollup_terms`); if there are at most `MAX_SIGNATURES`, each signature's
   contributions are computed in Python by the bases themselves and stored in a temp table
   (fields, metric, value, term). With more (a custom metric filtering on a free-text
   field, say), or a base that does not read its fields as declared, the caller scans
   that record kind in Python.
2. Owners are a temp table (owner → person, zone number, team if constant: its key, and a
   number for SQLite's GROUP BY to carry); the local day is a SQL expression
   (`rollup_zones.local_day_sql`); a person's team on a day comes from the same group row
   or, for people who moved, from a temp table of team pieces.
3. ``SELECT person, metric, local day, SUM(value) … GROUP BY … HAVING SUM(value) <> 0``
   joins records, owners and contributions (NULL-safe: ``IS`` on SQLite; a text key of the row
   on PostgreSQL, so the join can hash). On SQLite every kind goes into one such statement
   (`SqlRollups.merged`: one sort, rows in primary-key order); on PostgreSQL one per kind.

The helper tables (signatures, owners, team pieces) are temp tables on SQLite and unlogged
regular tables named per backend on PostgreSQL, where a scan of a temp table cannot run in a
parallel worker; either way they live only inside the caller's transaction.

`SqlRollups.merged` (SQLite) and `SqlRollups.aggregate` (one kind) return that SELECT for the
whole table; the full rebuild inserts it into the new `metric_daily` on SQLite, and on
PostgreSQL stages it and writes only the rows
that differ (`metrics.rollup_merge`). (Incremental refreshes stay on the Python scan: for a
few thousand person-days the signature and temp-table overhead costs more than it saves;
measured in docs/metrics.md.) Helper tables are dropped by `close()`; all in the caller's
transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from metrics.catalog import Base, Catalog, Source
from metrics.rollup_scan import Directory, stored_instant
from metrics.rollup_terms import Signatures
from metrics.rollup_zones import local_day_sql, team_pieces, zone_dispatch

MAX_SIGNATURES = 5000
OWNER, TEAM, CONTRIB = "tmp_rollup_owner", "tmp_rollup_team", "tmp_rollup_contrib"


@contextmanager
def sqlite_tuned(
    session: Session, *, threads: int = 0, kib: int = 262_144, zero_freed: bool = True
) -> Iterator[None]:
    """While rollups run on SQLite: a page cache of `kib` KiB and optionally sorter worker
    threads; all restored. A refresh wants a big cache (its scattered deletes and inserts in
    a large `metric_daily` re-read the same index pages); the rebuild a small one, because
    the cache size is also how much a GROUP BY sorts at once: with 16 MiB its 5.65M keys
    are sorted in runs that fit the CPU's caches, then merged (the occurred_at pass at 10,000
    reps: 17.4 s with 256 MiB, 14.7 s with 16 MiB, 22.9 s with 1 GiB; smaller than 16 MiB
    gains nothing more).

    `zero_freed=False` sets ``secure_delete = FAST``: pages freed by dropping the old rollup
    table are left as they are instead of being zeroed and written to the WAL (Debian's
    SQLite turns secure_delete on by default; zeroing the 4.5M-row table's pages cost ~5 s).
    They hold only rollup numbers recomputable from the same file's records, and are reused."""
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        yield
        return
    cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    workers = conn.exec_driver_sql("PRAGMA threads").scalar()
    secure = conn.exec_driver_sql("PRAGMA secure_delete").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{kib}")
    conn.exec_driver_sql(f"PRAGMA threads = {threads}")
    if not zero_freed:
        conn.exec_driver_sql("PRAGMA secure_delete = FAST")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(cache or -2000)}")
        conn.exec_driver_sql(f"PRAGMA threads = {int(workers or 0)}")
        conn.exec_driver_sql(f"PRAGMA secure_delete = {int(secure or 0)}")


@contextmanager
def postgres_tuned(session: Session) -> Iterator[None]:
    """While a rebuild runs on PostgreSQL: no JIT compilation. The zones' offsets are a
    CASE of a few hundred branches; compiling it costs ~1.4 s per statement, more than it
    saves on 5M rows. Transaction-local (`set_config(..., true)`), restored on success (a
    failed transaction is rolled back, which restores it anyway)."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        yield
        return
    jit = conn.exec_driver_sql("SELECT current_setting('jit')").scalar_one()
    conn.exec_driver_sql("SELECT set_config('jit', 'off', true)")
    yield
    conn.exec_driver_sql("SELECT set_config('jit', %s, true)", (jit,))


class SqlRollups:
    """Temp tables describing owners and teams, and the aggregation SQL built on them."""

    def __init__(self, session: Session, catalog: Catalog, directory: Directory) -> None:
        self.session, self.catalog, self.directory = session, catalog, directory
        self.conn: Connection = session.connection()
        self.sqlite = self.conn.dialect.name == "sqlite"
        self.mark = "?" if self.conn.dialect.paramstyle == "qmark" else "%s"
        # PostgreSQL: a query reading a temp table cannot use parallel workers, so the helper
        # tables are unlogged regular tables, named per backend, created and dropped in the
        # caller's transaction (invisible to other sessions; a rollback removes them too).
        self.kind = "TEMP TABLE" if self.sqlite else "UNLOGGED TABLE"
        suffix = (
            ""
            if self.sqlite
            else f"_{self.conn.exec_driver_sql('SELECT pg_backend_pid()').scalar_one()}"
        )
        self.owner, self.team, self.contrib = (f"{n}{suffix}" for n in (OWNER, TEAM, CONTRIB))
        self.zones = sorted({z.key for z in directory.zone.values()})
        self._created: list[str] = []
        zone_of = {name: i for i, name in enumerate(self.zones)}
        self._create(
            self.owner,
            "owner_id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL, zone INTEGER NOT NULL, "
            "team_key VARCHAR(64), multi INTEGER NOT NULL, team_no INTEGER NOT NULL",
        )
        self._create(
            self.team,
            "person_id INTEGER NOT NULL, from_day DATE NOT NULL, team_key VARCHAR(64), "
            "PRIMARY KEY (person_id, from_day)",
        )
        owners, teams = [], []
        pieces_of: dict[int, list[tuple[dt.date, str | None]]] = {}
        for owner_id, person_id in directory.owner_person.items():
            pieces = pieces_of.get(person_id)
            if pieces is None:
                pieces = pieces_of[person_id] = team_pieces(directory.spans.get(person_id, []))
                if len(pieces) > 1:
                    teams += [(person_id, self.day(d), t) for d, t in pieces]
            multi = len(pieces) > 1
            zone = zone_of[directory.zone[person_id].key]
            owners.append((owner_id, person_id, zone, None if multi else pieces[0][1], int(multi)))
        # Teams as small integers (-1: moved, see the team table): SQLite's GROUP BY sorts
        # them with every record, where a text costs more to copy and compare.
        self.teams = sorted({o[3] for o in owners if o[3] is not None})
        number: dict[str | None, int] = {team: i for i, team in enumerate(self.teams)}
        number[None] = len(self.teams)
        self._fill(self.owner, 6, [(*o, -1 if o[4] else number[o[3]]) for o in owners])
        self._fill(self.team, 3, teams)
        self._analyze(self.owner, self.team)

    def _analyze(self, *names: str) -> None:
        """PostgreSQL cannot auto-analyze tables made in this transaction; without statistics
        it guesses a few thousand owners and picks a nested loop over an owner index for 5M
        records."""
        if not self.sqlite:
            self.conn.exec_driver_sql(f"ANALYZE {', '.join(names)}")

    def day(self, day: dt.date) -> Any:
        return day.isoformat() if self.sqlite else day

    def _create(self, name: str, columns: str) -> None:
        self._drop(name)
        self.conn.exec_driver_sql(f"CREATE {self.kind} {name} ({columns})")
        self._created.append(name)

    def _create_as(self, name: str, select: str) -> None:
        self._drop(name)
        self.conn.exec_driver_sql(f"CREATE {self.kind} {name} AS {select}")
        if name not in self._created:
            self._created.append(name)

    def _drop(self, name: str) -> None:
        qualified = f"temp.{name}" if self.sqlite else name
        self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {qualified}")

    def _fill(self, name: str, width: int, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            marks = ", ".join([self.mark] * width)
            self.conn.exec_driver_sql(f"INSERT INTO {name} VALUES ({marks})", rows)

    def close(self) -> None:
        for name in reversed(self._created):
            self._drop(name)
        self._created.clear()

    def _span(self, source: Source, date_field: str) -> tuple[dt.datetime, dt.datetime] | None:
        """The first and last `date_field` instants of the owners' records (deleted ones
        too): two seeks per owner in its (owner_id, date field) index, ~30 ms for 10,000
        owners; None if they have none. Only a hint for `local_day_sql`, which stays right
        for records written after this read."""
        column = f"a.{date_field}"
        edge = (  # ORDER BY … LIMIT 1: a seek to either end (SQLite's MIN here reads them all)
            f"(SELECT {column} FROM {source} a WHERE a.owner_id = o.owner_id "
            f"AND {column} IS NOT NULL ORDER BY {column} {{}} LIMIT 1)"
        )
        first, last = self.conn.exec_driver_sql(
            f"SELECT MIN(lo), MAX(hi) FROM (SELECT {edge.format('ASC')} AS lo, "
            f"{edge.format('DESC')} AS hi FROM {self.owner} o) s"
        ).one()
        if first is None or last is None:
            return None
        return stored_instant(first), stored_instant(last)

    def aggregate(self, source: Source, date_field: str, bases: list[Base]) -> str | None:
        """The SELECT of (person_id, metric, day, value, team_key) rows, non-zero, for `bases`
        (all of one source and date field); None when the records have too many distinct
        signatures for SQL (scan them in Python)."""
        metrics = sorted(b.name for b in bases)
        if self.sqlite:
            merged = self.merged([(source, date_field, bases)], metrics)
            return None if merged is None else merged[0]
        kind = self._prepare(source, date_field, bases, metrics)
        if kind is None:
            return None
        # Grouping by the metric's index (an integer) hashes faster than by its name, and
        # the person's team is joined to the groups (a MAX over text per record costs
        # a collation comparison per record).
        day = local_day_sql(
            f"a.{date_field}", "o.zone", self.zones or ["UTC"], sqlite=False, within=kind.within
        )
        grouped = (
            f"SELECT o.person_id AS person_id, c.mi AS mi, {day} AS day, "
            f"SUM({kind.value}) AS value FROM {kind.tables} WHERE {kind.where} "
            f"GROUP BY 1, 2, 3 HAVING SUM({kind.value}) <> 0"
        )
        people = (
            "SELECT person_id, MAX(team_key) AS team, MAX(multi) AS multi "
            f"FROM {self.owner} GROUP BY person_id"
        )
        metric = zone_dispatch("g.mi", _literals(metrics))
        return (
            f"SELECT g.person_id, {metric}, g.day, g.value, {self._team_sql()} FROM (SELECT g.*, "
            f"p.team, p.multi FROM ({grouped}) g JOIN ({people}) p "
            "ON p.person_id = g.person_id) g"
        )

    def merged(
        self, kinds: list[tuple[Source, str, list[Base]]], metrics: list[str]
    ) -> tuple[str, list[tuple[Source, str]]] | None:
        """SQLite: one SELECT of the rows of the (source, date field, bases) in `kinds`, in
        primary-key order, and which kinds it covers: those with few enough signatures for
        SQL (None if none has). `metrics`: every base name of `kinds`, sorted.

        Each kind is grouped by one integer key (person, metric's index in `metrics`, Julian
        day number), which sorts about a third faster than the three columns and orders like
        the primary key (names sort as SQLite compares them, `YYYY-MM-DD` days as numbers).
        The kinds' groups come out of their sorts in key order, and a ``UNION ALL`` ordered
        by the key merges them without sorting again: the rows are appended to the new table
        in its key order (inserted kind by kind, each after the first went into the middle
        of the B-tree: ~2 s more at 10,000 reps)."""
        span = 1 << 22  # Julian day numbers < 4,194,304 (year 6700)
        width = len(metrics) * span
        arms, covered = [], []
        for source, date_field, bases in kinds:
            kind = self._prepare(source, date_field, bases, metrics)
            if kind is None:
                continue
            covered.append((source, date_field))
            day = local_day_sql(
                f"a.{date_field}",
                "o.zone",
                self.zones or ["UTC"],
                sqlite=True,
                julian=True,
                within=kind.within,
            )
            arms.append(
                f"SELECT (o.person_id * {len(metrics)} + c.mi) * {span} + {day} AS k, "
                f"{kind.value} AS value, o.team_no AS team_no "
                f"FROM {kind.tables} WHERE {kind.where}"
            )
        if not arms:
            return None
        grouped = (
            "SELECT k, SUM(value) AS value, MAX(team_no) AS team_no "
            f"FROM ({' UNION ALL '.join(arms)}) GROUP BY 1 HAVING SUM(value) <> 0"
        )
        metric = zone_dispatch(f"((g.k / {span}) % {len(metrics)})", _literals(metrics))
        teams = zone_dispatch("g.team_no", [*_literals(self.teams), "NULL"])
        decoded = (
            f"SELECT g.k / {width} AS person_id, {metric} AS metric, date(g.k % {span}) AS day, "
            f"g.value AS value, CASE WHEN g.team_no < 0 THEN NULL ELSE {teams} END AS team, "
            f"g.team_no < 0 AS multi FROM ({grouped}) g"
        )
        team = self._team_sql()
        return f"SELECT g.person_id, g.metric, g.day, g.value, {team} FROM ({decoded}) g", covered

    def _team_sql(self) -> str:
        """The team of row g: its group's team, or for a person who moved, the piece's."""
        return (
            "CASE WHEN g.multi = 0 THEN g.team ELSE "
            f"(SELECT t.team_key FROM {self.team} t WHERE t.person_id = g.person_id "
            "AND t.from_day <= g.day ORDER BY t.from_day DESC LIMIT 1) END"
        )

    def _prepare(
        self, source: Source, date_field: str, bases: list[Base], metrics: list[str]
    ) -> _Kind | None:
        """The signatures' contributions of one record kind in a helper table of its own,
        and the FROM/WHERE joining them to the records and owners; None when the records
        have too many distinct signatures (or a base misbehaves) for SQL."""
        plan = Signatures(bases, sqlite=self.sqlite)
        fields = plan.fields
        live = f"NOT a.deleted AND a.{date_field} IS NOT NULL"
        columns = ", ".join(plan.columns()) or "1"
        signatures = self.conn.exec_driver_sql(
            f"SELECT DISTINCT {columns} FROM {source} a WHERE {live} LIMIT {MAX_SIGNATURES + 1}"
        ).fetchall()
        if len(signatures) > MAX_SIGNATURES:
            return None
        index = {name: metrics.index(name) for name in {b.name for b in bases}}
        rows = []
        for sig in (tuple(s) if fields else () for s in signatures):
            parts = plan.contributions(sig)
            if parts is None:
                return None
            rows += [(*sig, name, index[name], value, term) for name, value, term in parts]
        contrib = f"{self.contrib}_{source}_{date_field}"
        key = "CAST(NULL AS TEXT) AS sig_key" if not self.sqlite else "NULL AS sig_key"
        self._create_as(
            contrib,
            "SELECT "
            + "".join(
                f"CAST(NULL AS INTEGER) AS {f}, " if f in plan.flagged else f"a.{f}, "
                for f in fields
            )
            + "CAST(NULL AS VARCHAR(64)) AS metric, CAST(NULL AS INTEGER) AS mi, "
            f"CAST(NULL AS FLOAT) AS value, CAST(NULL AS INTEGER) AS term, {key} "
            f"FROM {source} a WHERE 1 = 0",
        )
        names = ", ".join([*fields, "metric", "mi", "value", "term"])
        marks = ", ".join([self.mark] * (len(fields) + 4))
        if rows:
            self.conn.exec_driver_sql(f"INSERT INTO {contrib} ({names}) VALUES ({marks})", rows)
        if not fields:
            match = "1 = 1"
        elif self.sqlite:
            self.conn.exec_driver_sql(
                f"CREATE INDEX temp.ix_{contrib} ON {contrib} ({', '.join(fields)})"
            )
            match = " AND ".join(
                f"c.{f} IS {column}" for f, column in zip(fields, plan.columns(), strict=True)
            )
        else:
            self.conn.exec_driver_sql(
                f"UPDATE {contrib} SET sig_key = ROW({', '.join(fields)})::text"
            )
            match = f"ROW({', '.join(plan.columns())})::text = c.sig_key"
            self._analyze(contrib)
        return _Kind(
            tables=f"{source} a CROSS JOIN {self.owner} o CROSS JOIN {contrib} c",
            where=f"{live} AND o.owner_id = a.owner_id AND {match}",
            value=plan.value_sql(),
            within=self._span(source, date_field),
        )


@dataclass(frozen=True)
class _Kind:
    """One record kind's part of the aggregation: FROM, WHERE, the summed value, and the
    span of its records' instants (a hint for `local_day_sql`)."""

    tables: str
    where: str
    value: str
    within: tuple[dt.datetime, dt.datetime] | None


def _literals(texts: list[str]) -> list[str]:
    return ["'" + t.replace("'", "''") + "'" for t in texts]
