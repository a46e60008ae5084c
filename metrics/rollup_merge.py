"""PostgreSQL: a rebuild stages its rows, then writes to `metric_daily` only what differs.

Rewriting every row of `metric_daily` costs there ~15 µs a row (the unique check visits the
dead version of each key deleted in the same transaction, the foreign-key trigger, two B-tree
inserts), while a repair changes few rows; and readers keep their snapshot throughout (no
TRUNCATE, no lock beyond the changed rows') but for step 4. So:

1. Each in-database aggregation is staged by ``CREATE TABLE … AS`` (its SELECT may run in
   parallel workers; an ``INSERT … SELECT`` never does, up to PostgreSQL 16), and the rows
   the Python scan adds are COPYed into one more staged table.
2. Both sides are summarised per person: rows and the sum of a 64-bit hash of each row's
   text (metric, day, value, team), seeded with the person — two parallel scans (~1 s each
   for 4.5M rows, against ~5 s for a hash full join of the two sides, which PostgreSQL 15
   cannot run in parallel). People whose summaries agree have the same rows.
3. For the people whose summaries differ, one hash full join finds the keys whose row is
   missing, extra or different; those old rows are deleted and the new ones inserted in key
   order.
4. Unless those people hold most of the rows (a changed metric definition or org time zone):
   then every row is replaced — TRUNCATE, and a load with the keys, indexes and foreign keys
   dropped and re-created from their catalog definitions (4.5M rows: ~20 s, against ~130 s
   for writing 9M differences). That locks `metric_daily` (ACCESS EXCLUSIVE) until the
   caller commits, so it waits at most `LOCK_WAIT` for current readers and otherwise writes
   the differences after all (readers arriving during that wait queue behind the request).

Two different row sets of one person with equal row counts and equal sums of 64-bit hashes
would be left unrepaired: about one chance in 2^64 for each person whose rows changed.
The text of a row is unambiguous: metric names are ``[a-z0-9_.]`` (no ``|``), days and
numbers print without one, the team is last and NULL is left out rather than printed empty.
The staged tables are unlogged regular tables named per backend (a scan of a temp table
cannot run in a parallel worker), created and dropped in the caller's transaction.
"""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

STAGE, DIFF = "tmp_rollup_new", "tmp_rollup_diff"
KEY = ("person_id", "metric", "day")
COLUMNS = "person_id, metric, day, value, team_key"
ROW_HASH = "hashtextextended(concat_ws('|', metric, day, value, team_key), person_id)"
# Replace every row when the differing people hold more than this share of both sides'
# rows, and at least BULK_ROWS of them (below that the differences are written in no time).
BULK_SHARE, BULK_ROWS = 0.25, 50_000
LOCK_WAIT = "5s"  # how long the bulk path waits for readers of metric_daily
# Values this close (relative) are the same: sums of the same amounts added in another order
# (SQLite and PostgreSQL, parallel workers, the Python scan) differ in their last bits, and
# rewriting them would change nothing anyone sees; a cent in $10M is 1e-9.
SAME = 1e-12


class StagedRollups:
    """The staged tables of one rebuild and the merge of their rows into `metric_daily`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        self.prefix = f"{STAGE}_{pid}"
        self.tables: list[str] = []

    def _create(self, definition: str) -> tuple[str, int]:
        name = f"{self.prefix}_{len(self.tables)}"
        self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
        rows = self.conn.exec_driver_sql(f"CREATE UNLOGGED TABLE {name} {definition}").rowcount
        self.tables.append(name)
        return name, int(rows)

    def table(self) -> str:
        """An empty staged table shaped like `metric_daily` (no indexes, no foreign key), for
        rows written by COPY; its name."""
        return self._create("(LIKE metric_daily INCLUDING DEFAULTS)")[0]

    def add(self, query: str) -> int:
        """Stage the rows of one aggregation SELECT (person, metric, day, value, team); how
        many. Hash aggregation is off meanwhile: with nearly as many groups as records,
        PostgreSQL 15 will not aggregate partially in the workers, so one HashAggregate in
        the leader grouped all 5.6M rows and computed every local day (~5 s on one core);
        sorting instead, the workers compute the keys and sort their share, and the leader
        merges (the occurred_at pass 8.4–9.0 s → 7.2–8.0 s)."""
        conn = self.conn
        hashing = conn.exec_driver_sql("SELECT current_setting('enable_hashagg')").scalar_one()
        conn.exec_driver_sql("SELECT set_config('enable_hashagg', 'off', true)")
        rows = self._create(f"({COLUMNS}) AS {query}")[1]
        # transaction-local: after a failure the caller's rollback restores it
        conn.exec_driver_sql("SELECT set_config('enable_hashagg', %s, true)", (hashing,))
        return rows

    def _summaries(self, *tables: str) -> dict[int, tuple[int, int]]:
        """Per person: (rows, sum of row hashes) over `tables`, one parallel scan each."""
        found: dict[int, tuple[int, int]] = {}
        for table in tables:
            result = self.conn.exec_driver_sql(
                f"SELECT person_id, count(*), sum({ROW_HASH}) FROM {table} GROUP BY person_id"
            )
            for person, n, total in result:
                rows, hashes = found.get(person, (0, 0))
                found[person] = (rows + int(n), hashes + int(total))
        return found

    def merge(self) -> int:
        """Make `metric_daily` equal the staged rows; the rows deleted + inserted. The staged
        tables are dropped (after a failure the caller's rollback removes them)."""
        # The staged tables are not ANALYZEd (0.4 s for 4.5M rows): they are only scanned
        # whole, or filtered to a few people; the planner sizes them from their pages.
        staged = " UNION ALL ".join(f"SELECT {COLUMNS} FROM {n}" for n in self.tables)
        old = self._summaries("metric_daily")
        new = self._summaries(*self.tables)
        people = sorted(p for p in old.keys() | new.keys() if old.get(p) != new.get(p))
        touched = sum(side[p][0] for side in (old, new) for p in people if p in side)
        before = sum(n for n, _ in old.values())
        everything = before + sum(n for n, _ in new.values())
        if not people:
            changed = 0
        elif touched > max(BULK_SHARE * everything, BULK_ROWS) and self._lock_table():
            changed = before + self._replace_all(staged)
        else:
            changed = self._write_differences(staged, people)
        self.drop()
        return changed

    def _lock_table(self) -> bool:
        """Take `metric_daily` for the bulk path, waiting at most `LOCK_WAIT` for readers to
        finish; False (and nothing changed) if they did not."""
        conn = self.conn
        wait = conn.exec_driver_sql("SELECT current_setting('lock_timeout')").scalar_one()
        conn.exec_driver_sql("SAVEPOINT rollup_bulk")
        conn.exec_driver_sql("SELECT set_config('lock_timeout', %s, true)", (LOCK_WAIT,))
        try:
            conn.exec_driver_sql("LOCK TABLE metric_daily IN ACCESS EXCLUSIVE MODE")
        except OperationalError:  # lock_not_available: the savepoint undoes the setting too
            conn.exec_driver_sql("ROLLBACK TO SAVEPOINT rollup_bulk")
            return False
        conn.exec_driver_sql("SELECT set_config('lock_timeout', %s, true)", (wait,))
        conn.exec_driver_sql("RELEASE SAVEPOINT rollup_bulk")
        return True

    def _replace_all(self, staged: str) -> int:
        """Replace every row: TRUNCATE, then load the staged rows with the keys, indexes and
        foreign keys dropped and re-created from their catalog definitions (checking a
        foreign key row by row cost more than the rest of the load together); the rows
        inserted. The table is locked (ACCESS EXCLUSIVE) until the caller commits."""
        conn = self.conn
        constraints = conn.exec_driver_sql(
            "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'metric_daily'::regclass AND contype IN ('p', 'u', 'f') "
            "ORDER BY contype DESC, conname"  # keys first, foreign keys last
        ).all()
        indexes = conn.exec_driver_sql(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = 'metric_daily'::regclass AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1"
        ).all()
        for name, _kind, _definition in reversed(constraints):
            conn.exec_driver_sql(f'ALTER TABLE metric_daily DROP CONSTRAINT "{name}"')
        for name, _definition in indexes:
            conn.exec_driver_sql(f"DROP INDEX {name}")
        conn.exec_driver_sql("TRUNCATE metric_daily")
        inserted = conn.exec_driver_sql(
            f"INSERT INTO metric_daily ({COLUMNS}) SELECT {COLUMNS} FROM ({staged}) s "
            f"ORDER BY {', '.join(KEY)}"
        ).rowcount
        for name, kind, definition in constraints:
            valid = " NOT VALID" if kind == "f" else ""
            conn.exec_driver_sql(
                f'ALTER TABLE metric_daily ADD CONSTRAINT "{name}" {definition}{valid}'
            )
            if valid:
                conn.exec_driver_sql(f'ALTER TABLE metric_daily VALIDATE CONSTRAINT "{name}"')
        for _name, definition in indexes:
            conn.exec_driver_sql(definition)
        conn.exec_driver_sql("ANALYZE metric_daily")
        return int(inserted)

    def _write_differences(self, staged: str, people: list[int]) -> int:
        conn = self.conn
        same_key = " AND ".join(f"n.{c} = m.{c}" for c in KEY)
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS pg_temp.{DIFF}")
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE {DIFF} AS SELECT "
            + "".join(f"m.{c} AS old_{c}, " for c in KEY)
            + ", ".join(f"n.{c}" for c in COLUMNS.split(", "))
            + " FROM (SELECT * FROM metric_daily WHERE person_id = ANY(%(p)s)) m "
            f"FULL JOIN (SELECT * FROM ({staged}) s WHERE person_id = ANY(%(p)s)) n "
            f"ON {same_key} WHERE m.person_id IS NULL OR n.person_id IS NULL "
            f"OR abs(n.value - m.value) > {SAME} * greatest(abs(n.value), abs(m.value)) "
            "OR n.team_key IS DISTINCT FROM m.team_key",
            {"p": people},
        )
        conn.exec_driver_sql(f"ANALYZE {DIFF}")
        deleted = conn.exec_driver_sql(
            f"DELETE FROM metric_daily m USING {DIFF} d WHERE "
            + " AND ".join(f"m.{c} = d.old_{c}" for c in KEY)
        ).rowcount
        inserted = conn.exec_driver_sql(
            f"INSERT INTO metric_daily ({COLUMNS}) SELECT {COLUMNS} FROM {DIFF} "
            f"WHERE person_id IS NOT NULL ORDER BY {', '.join(KEY)}"
        ).rowcount
        conn.exec_driver_sql(f"DROP TABLE pg_temp.{DIFF}")
        return int(deleted) + int(inserted)

    def drop(self) -> None:
        for name in self.tables:
            self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
        self.tables.clear()
