"""The cached org on PostgreSQL 15 (`python -m bench ... --engine postgresql`).

A private server (the test fixtures' helper, `tests.support.postgres`: as root it runs as the
`postgres` user) whose data directory is cached next to the SQLite org as
`bench/.cache/pg-org-{scale}/`. The first run initialises it, migrates the schema and loads
the SQLite org with COPY (secondary indexes dropped during the load and recreated after,
foreign-key triggers off), then ANALYZE; `pg-org-{scale}.loaded` records which SQLite file
(size and mtime) it holds, so later runs only start the server. The server is tuned for this
2-core, 23 GB machine shared with other work (`TUNING`, in its postgresql.conf).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from bench.common import CACHE
from bench.demo_org import DemoOrg
from metrics.store import make_engine
from tests.support.postgres import (
    PostgresServer,
    PostgresUnavailable,
    _free_port,
    _run_as,
    find_bindir,
)

# Server settings for the benchmark (see docs/benchmarks.md, "PostgreSQL"): a quarter of the
# RAM we may reasonably take on a shared box for the buffer cache, enough work_mem for the
# rebuild's hash aggregate of ~5M groups to stay in memory, one parallel worker per core.
TUNING = {
    "shared_buffers": "2GB",
    "work_mem": "256MB",
    "hash_mem_multiplier": "4",
    "maintenance_work_mem": "1GB",
    "effective_cache_size": "8GB",
    "max_parallel_workers_per_gather": "2",
    "max_parallel_maintenance_workers": "2",
    "max_worker_processes": "4",
    "max_parallel_workers": "2",
    "random_page_cost": "1.1",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "timezone": "'UTC'",
}


def _marker(scale: str) -> Path:
    return CACHE / f"pg-org-{scale}.loaded"


def _stamp(path: Path) -> dict[str, float]:
    st = path.stat()
    return {"size": st.st_size, "mtime": st.st_mtime}


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _initdb(bindir: Path, base: Path, prefix: list[str]) -> Path:
    shutil.rmtree(base, ignore_errors=True)
    datadir = base / "data"
    datadir.mkdir(parents=True)
    if prefix:
        base.chmod(0o755)
        shutil.chown(datadir, "postgres", "postgres")
    initdb = [str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "-A", "trust"]
    subprocess.run(
        [*prefix, *initdb, "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
    )
    return datadir


def _tune(datadir: Path, prefix: list[str]) -> None:
    conf = "".join(f"{k} = {v}\n" for k, v in TUNING.items())
    lines = "\n# drumbeat bench (bench/pg.py)\n" + conf
    with (datadir / "postgresql.conf").open("a") as fh:
        fh.write(lines)
    if prefix:
        shutil.chown(datadir / "postgresql.conf", "postgres", "postgres")


@contextmanager
def served_org(org: DemoOrg, scale: str) -> Iterator[str]:
    """A running server holding `org` (loaded on first use); yields its SQLAlchemy URL."""
    bindir = find_bindir()
    if bindir is None or not (bindir / "initdb").exists():
        raise PostgresUnavailable("PostgreSQL server binaries (initdb, pg_ctl) not found")
    prefix = _run_as()
    base = CACHE / f"pg-org-{scale}"
    marker = _marker(scale)
    wanted = _stamp(org.path)
    fresh = not (marker.exists() and json.loads(marker.read_text()) == wanted)
    if fresh:
        marker.unlink(missing_ok=True)
        _say(f"first PostgreSQL run: loading the {scale} org into {base} (once)")
        _initdb(bindir, base, prefix)
        _tune(base / "data", prefix)
    server = PostgresServer(bindir, base / "data", _free_port(), prefix)
    server.start()
    try:
        if fresh:
            admin = make_engine(server.admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text("CREATE DATABASE drumbeat"))
            admin.dispose()
            load_sqlite(org.path, server.url("drumbeat"))
            marker.write_text(json.dumps(wanted))
        yield server.url("drumbeat")
    finally:
        server.stop("fast")


def load_sqlite(path: Path, url: str) -> None:
    """Migrate `url` and COPY every non-empty table of the SQLite file at `path` into it."""
    from bot import db

    db.upgrade(url)
    source = sqlite3.connect(path)
    engine = make_engine(url)
    began = time.perf_counter()
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("SET session_replication_role = replica")  # no FK triggers
            tables = [
                name
                for (name,) in source.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' AND name <> 'alembic_version' ORDER BY name"
                )
                if source.execute(f'SELECT 1 FROM "{name}" LIMIT 1').fetchone()
            ]
            indexes = conn.execute(
                text(
                    "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = "
                    "'public' AND i.tablename = ANY(:t) AND NOT EXISTS (SELECT 1 FROM "
                    "pg_constraint c WHERE c.conname = i.indexname)"
                ),
                {"t": tables},
            ).fetchall()
            for name, _sql in indexes:
                conn.exec_driver_sql(f'DROP INDEX "{name}"')
            dbapi = conn.connection.driver_connection
            for table in tables:
                _copy_table(source, dbapi, table)
            _say(f"  indexing ({len(indexes)} indexes) ...")
            for _name, sql in indexes:
                conn.exec_driver_sql(sql)
            for table in tables:
                conn.exec_driver_sql(
                    f"SELECT setval(s, (SELECT max(id) FROM {table})) FROM "
                    f"pg_get_serial_sequence('{table}', 'id') s WHERE s IS NOT NULL"
                    if _has_id(source, table)
                    else "SELECT 1"
                )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            _say("  ANALYZE ...")
            conn.exec_driver_sql("VACUUM ANALYZE")
    finally:
        engine.dispose()
        source.close()
    _say(f"  loaded in {time.perf_counter() - began:.0f} s")


def _has_id(source: sqlite3.Connection, table: str) -> bool:
    return any(row[1] == "id" for row in source.execute(f'PRAGMA table_info("{table}")'))


def _copy_table(source: sqlite3.Connection, dbapi: object, table: str) -> None:
    """COPY one table: SQLite's values as text (timestamps are naive UTC text and the
    session's zone is UTC; booleans 0/1 are valid boolean input)."""
    columns = [row[1] for row in source.execute(f'PRAGMA table_info("{table}")')]
    total = source.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    names = ", ".join(f'"{c}"' for c in columns)
    cursor = source.execute(f'SELECT {names} FROM "{table}"')
    done, last = 0, time.perf_counter()
    with dbapi.cursor() as cur:  # type: ignore[attr-defined]
        cur.execute("SET TIME ZONE 'UTC'")
        with cur.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
            while rows := cursor.fetchmany(50_000):
                for row in rows:
                    copy.write_row(row)
                done += len(rows)
                if time.perf_counter() - last > 5 or done == total:
                    _say(f"  {table}: {done:,} / {total:,} rows")
                    last = time.perf_counter()
