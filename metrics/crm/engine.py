"""The sync engine: pull every object of one connector, page by page, into the store.

Each page is stored (bulk upsert, stage history, dirty rollup days) and its cursor saved in
ONE transaction, so a crash or API error mid-way loses nothing and duplicates nothing: the
next run resumes from the last committed cursor, and upserts make any overlap harmless.
Owners are synced first so deals and activities resolve their owner ids.

This is a job, not a service function: it owns its transactions (one per page) and takes a
session factory. Every run is recorded in `sync_runs` with its stats.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from metrics.clock import Clock
from metrics.config import CurrencyConfig
from metrics.crm import sanitize, store
from metrics.crm.errors import CrmError
from metrics.crm.records import OBJECTS, Connector, Cursor, ObjectName, Page
from metrics.models import SyncCursor, SyncRun

log = logging.getLogger(__name__)
MAX_PROBLEM_SAMPLES = 50


@dataclass
class ObjectStats:
    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    problems: int = 0
    missing_amount: int = 0
    # deals with an amount whose currency cannot convert to the reporting currency (not a
    # 3-letter code, or no configured rate): they drop out of revenue figures
    no_rate: int = 0
    pages: int = 0
    seconds: float = 0.0
    problem_samples: list[str] = field(default_factory=list)


@dataclass
class SyncReport:
    source: str
    full: bool
    run_id: int
    status: str = "running"  # running | ok | failed
    objects: dict[str, ObjectStats] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def stats_json(self) -> dict[str, Any]:
        return {
            "objects": {name: asdict(s) for name, s in self.objects.items()},
            "usage": self.usage,
            "seconds": round(self.seconds, 3),
        }


Progress = Callable[[str, ObjectStats], None]


def load_cursor(session: Session, *, source: str, obj: str) -> Cursor:
    row = session.get(SyncCursor, (source, obj))
    if row is None:
        return Cursor()
    return Cursor(row.cursor_modified_at, row.cursor_external_id, row.state)


def save_cursor(
    session: Session,
    *,
    source: str,
    obj: str,
    cursor: Cursor,
    now: dt.datetime,
    success: bool = False,
    error: str | None = None,
) -> None:
    row = session.get(SyncCursor, (source, obj)) or SyncCursor(source=source, object=obj)
    row.cursor_modified_at = cursor.modified_at
    row.cursor_external_id = cursor.external_id
    row.state = cursor.state
    row.updated_at = now
    row.last_error = error
    if success:
        row.last_success_at = now
    session.add(row)


def _store_page(
    session: Session, source: str, obj: ObjectName, page: Page[Any], compare_content: bool
) -> store.PageStats:
    if obj == "owners":
        return store.store_owners(session, source=source, records=page.records)
    if obj == "deals":
        return store.store_deals(
            session, source=source, records=page.records, compare_content=compare_content
        )
    return store.store_activities(
        session, source=source, records=page.records, compare_content=compare_content
    )


def _no_rate(records: Sequence[Any], currencies: CurrencyConfig | None) -> int:
    """Live deals with an amount whose currency has no rate (or is not a 3-letter code)."""
    count = 0
    for r in records:
        if r.deleted or r.amount is None:
            continue
        code = r.currency
        if code is None:
            continue  # taken as the reporting currency
        if not (len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()):
            count += 1
        elif currencies is not None and code != currencies.reporting:
            count += code not in currencies.rates
    return count


def _tune(session: Session) -> None:
    """A bigger page cache for SQLite bulk loads (per connection; the default 2 MB makes
    index maintenance of large loads disk-bound). Set once per pooled connection."""
    conn = session.connection()
    if conn.dialect.name == "sqlite" and not conn.info.get(_TUNED):
        conn.exec_driver_sql("PRAGMA cache_size=-65536")
        conn.info[_TUNED] = True


_TUNED = "drumbeat.sync_cache_size"


def _pages(connector: Connector, obj: ObjectName, cursor: Cursor) -> Iterator[Page[Any]]:
    if obj == "owners":
        return connector.owners(cursor)
    if obj == "deals":
        return connector.deals(cursor)
    return connector.activities(cursor)


def sync_source(
    connector: Connector,
    *,
    session_factory: sessionmaker[Session],
    clock: Clock,
    full: bool = False,
    objects: Sequence[ObjectName] = OBJECTS,
    progress: Progress | None = None,
    perf_counter: Callable[[], float] = time.perf_counter,
    currencies: CurrencyConfig | None = None,
) -> SyncReport:
    """Sync `objects` of `connector`; `full` ignores stored cursors and re-reads everything.
    With `currencies`, deals whose currency has no rate are counted (`no_rate`); without,
    only currencies that are not 3-letter codes are.

    Returns the report (status ok or failed, with the error). CRM errors (API, config) end
    the run as failed without raising; anything else is recorded and re-raised.
    """
    source = connector.source
    started = perf_counter()
    with session_factory() as session, session.begin():
        run = SyncRun(source=source, full=full, started_at=clock.now(), status="running")
        session.add(run)
        session.flush()
        report = SyncReport(source=source, full=full, run_id=run.id)
    current: str | None = None
    try:
        for obj in objects:
            current = obj
            _sync_object(
                connector,
                obj,
                session_factory,
                clock,
                full,
                report,
                progress,
                perf_counter,
                currencies,
            )
        report.status = "ok"
    except Exception as exc:
        report.status = "failed"
        report.error = f"{current or 'sync'}: {type(exc).__name__}: {exc}"
        log.error("sync %s failed: %s", source, report.error)
        if current is not None:
            with session_factory() as session, session.begin():
                row = session.get(SyncCursor, (source, current))
                if row is not None:
                    row.last_error = report.error[:2000]
                    row.updated_at = clock.now()
        if not isinstance(exc, CrmError):
            _finish(session_factory, clock, report, started, perf_counter, connector)
            raise
    _finish(session_factory, clock, report, started, perf_counter, connector)
    return report


def _sync_object(
    connector: Connector,
    obj: ObjectName,
    session_factory: sessionmaker[Session],
    clock: Clock,
    full: bool,
    report: SyncReport,
    progress: Progress | None,
    perf_counter: Callable[[], float],
    currencies: CurrencyConfig | None = None,
) -> None:
    source = connector.source
    compare_content = bool(getattr(connector, "compare_content", False))
    stats = report.objects.setdefault(obj, ObjectStats())
    began = perf_counter()
    if full:
        cursor = Cursor()
    else:
        with session_factory() as session:
            cursor = load_cursor(session, source=source, obj=obj)
    for raw_page in _pages(connector, obj, cursor):
        page = sanitize.page(obj, raw_page)
        with session_factory() as session, session.begin():
            _tune(session)
            page_stats = _store_page(session, source, obj, page, compare_content)
            save_cursor(session, source=source, obj=obj, cursor=page.cursor, now=clock.now())
        cursor = page.cursor
        stats.pages += 1
        stats.fetched += len(page.records)
        stats.new += page_stats.new
        stats.updated += page_stats.updated
        stats.unchanged += page_stats.unchanged
        stats.deleted += page_stats.deleted
        stats.missing_amount += page_stats.missing_amount
        if obj == "deals":
            stats.no_rate += _no_rate(page.records, currencies)
        stats.problems += len(page.problems)
        for problem in page.problems:
            log.warning("%s: skipped %s", source, problem)
            if len(stats.problem_samples) < MAX_PROBLEM_SAMPLES:
                stats.problem_samples.append(str(problem))
        stats.seconds = perf_counter() - began
        if progress is not None:
            progress(obj, stats)
    with session_factory() as session, session.begin():
        save_cursor(session, source=source, obj=obj, cursor=cursor, now=clock.now(), success=True)
    stats.seconds = perf_counter() - began
    if progress is not None:
        progress(obj, stats)


def _finish(
    session_factory: sessionmaker[Session],
    clock: Clock,
    report: SyncReport,
    started: float,
    perf_counter: Callable[[], float],
    connector: Connector,
) -> None:
    report.seconds = perf_counter() - started
    try:
        report.usage = connector.usage()
    except Exception:  # usage is informational; never mask the sync outcome
        log.exception("reading %s usage failed", report.source)
    with session_factory() as session, session.begin():
        run = session.get(SyncRun, report.run_id)
        if run is not None:
            run.status = report.status
            run.finished_at = clock.now()
            run.stats = report.stats_json()
            run.error = report.error[:4000] if report.error else None


def last_runs(session: Session, *, source: str | None = None, limit: int = 10) -> list[SyncRun]:
    """The most recent sync runs, newest first."""
    query = select(SyncRun).order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(limit)
    if source is not None:
        query = query.where(SyncRun.source == source)
    return list(session.scalars(query))
