from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from metrics.clock import TravellingClock
from metrics.crm.engine import load_cursor, sync_source
from metrics.crm.records import ActivityRecord, Cursor, DealRecord, OwnerRecord, Page, advance
from metrics.directory import unmatched_owners
from metrics.models import Activity, CrmUser, SyncRun
from tests.metrics.crm.helpers import NOW, dirty_days, stored

T0 = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


class ListConnector:
    """A connector over in-memory lists, paged by (modified, id), with an optional crash."""

    source = "mem"

    def __init__(self) -> None:
        self.owner_list: list[OwnerRecord] = [
            OwnerRecord("o1", "A@x.io", "A", True, T0),
            OwnerRecord("o2", "b@x.io", "B", True, T0),
        ]
        self.acts: dict[str, ActivityRecord] = {}
        self.deal_list: dict[str, DealRecord] = {}
        self.page_size = 10
        self.crash_after_pages: int | None = None

    def owners(self, cursor: Cursor) -> Iterator[Page[OwnerRecord]]:
        yield Page(list(self.owner_list), Cursor(T0, "o2"))

    def _paged(self, rows: list[Any], cursor: Cursor) -> Iterator[Page[Any]]:
        rows = sorted(
            (r for r in rows if not cursor.is_after(r.modified_at, r.external_id)),
            key=lambda r: (r.modified_at, r.external_id),
        )
        position = cursor
        for n, start in enumerate(range(0, len(rows), self.page_size)):
            if self.crash_after_pages is not None and n >= self.crash_after_pages:
                raise RuntimeError("injected crash")
            page = rows[start : start + self.page_size]
            for r in page:
                position = advance(position, r.modified_at, r.external_id)
            yield Page(page, position)

    def deals(self, cursor: Cursor) -> Iterator[Page[DealRecord]]:
        return self._paged(list(self.deal_list.values()), cursor)

    def activities(self, cursor: Cursor) -> Iterator[Page[ActivityRecord]]:
        return self._paged(list(self.acts.values()), cursor)

    def usage(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        return None


def call(
    i: int, *, owner: str = "o1", at: dt.datetime | None = None, mod: dt.datetime | None = None
) -> ActivityRecord:
    at = at or T0 + dt.timedelta(hours=i)
    return ActivityRecord(f"c{i:04d}", "call", owner, at, mod or at, outcome="connected")


def run(conn: ListConnector, factory: sessionmaker[Session], **kw: Any) -> Any:
    return sync_source(conn, session_factory=factory, clock=TravellingClock(NOW), **kw)


def test_dirty_days_cover_old_and_new_values_and_owners(
    session_factory: sessionmaker[Session],
) -> None:
    conn = ListConnector()
    conn.acts = {"c0001": call(1)}
    conn.deal_list = {"d1": DealRecord("d1", "o1", T0, T0, amount=Decimal("10"), currency="USD")}
    assert run(conn, session_factory).ok
    users = {u.external_id: u.id for u in stored(session_factory, CrmUser, "mem").values()}
    assert dirty_days(session_factory) == {(users["o1"], T0.date())}
    moved_to = T0 + dt.timedelta(days=5)
    closed = T0 + dt.timedelta(days=9)
    conn.acts = {"c0001": call(1, owner="o2", at=moved_to, mod=T0 + dt.timedelta(days=6))}
    conn.deal_list = {
        "d1": DealRecord("d1", "o1", T0, closed, is_closed=True, is_won=True, closed_at=closed)
    }
    with session_factory() as session, session.begin():
        session.execute(RollupDirtyDelete())
    report = run(conn, session_factory)
    assert report.objects["activities"].updated == 1
    assert report.objects["deals"].missing_amount == 1
    assert dirty_days(session_factory) == {
        (users["o1"], T0.date()),  # the call's old day (old owner) and the deal's created day
        (users["o2"], moved_to.date()),
        (users["o1"], closed.date()),
    }


def RollupDirtyDelete() -> Any:
    from sqlalchemy import delete

    from metrics.models import RollupDirty

    return delete(RollupDirty)


def test_unknown_owner_gets_a_placeholder_listed_as_unmatched(
    session_factory: sessionmaker[Session],
) -> None:
    conn = ListConnector()
    conn.acts = {"c0001": call(1, owner="ghost")}
    assert run(conn, session_factory).ok
    act = stored(session_factory, Activity, "mem")["c0001"]
    assert act.owner_id is not None
    with session_factory() as session:
        assert "ghost" in {u.external_id for u in unmatched_owners(session)}


def test_injected_crash_resumes_with_exact_rows(session_factory: sessionmaker[Session]) -> None:
    conn = ListConnector()
    conn.acts = {f"c{i:04d}": call(i) for i in range(95)}
    # ties on modified time across a page boundary: the id breaks them
    for i in range(8, 13):
        conn.acts[f"c{i:04d}"] = call(i, mod=T0 + dt.timedelta(hours=8))
    conn.crash_after_pages = 4
    with pytest.raises(RuntimeError, match="injected crash"):
        run(conn, session_factory)
    assert len(stored(session_factory, Activity, "mem")) == 40
    with session_factory() as session:
        cursor = load_cursor(session, source="mem", obj="activities")
        runs = session.scalars(select(SyncRun)).all()
    assert cursor.external_id == "c0039"
    assert [(r.status, "injected crash" in (r.error or "")) for r in runs] == [("failed", True)]
    conn.crash_after_pages = None
    report = run(conn, session_factory)
    assert report.ok and report.objects["activities"].new == 55
    assert report.objects["activities"].fetched == 55  # nothing re-read
    rows = stored(session_factory, Activity, "mem")
    assert set(rows) == set(conn.acts)
    assert all(rows[k].modified_at == v.modified_at for k, v in conn.acts.items())


def test_resync_is_unchanged_full_rereads_and_duplicates_collapse(
    session_factory: sessionmaker[Session],
) -> None:
    conn = ListConnector()
    conn.acts = {f"c{i:04d}": call(i) for i in range(25)}
    assert run(conn, session_factory).objects["activities"].new == 25
    assert run(conn, session_factory).objects["activities"].fetched == 0
    full = run(conn, session_factory, full=True)
    assert (full.objects["activities"].fetched, full.objects["activities"].unchanged) == (25, 25)
    deleted = ActivityRecord("c0003", "call", "o1", T0, T0 + dt.timedelta(days=3), deleted=True)
    conn.acts["c0003"] = deleted
    conn.page_size = 100
    again = run(conn, session_factory)
    assert again.objects["activities"].deleted == 1
    assert stored(session_factory, Activity, "mem")["c0003"].deleted
    with session_factory() as session, session.begin():
        from metrics.crm.store import store_activities

        stats = store_activities(
            session, source="mem", records=[call(500), call(500, mod=T0 + dt.timedelta(days=2))]
        )
    assert stats.new == 1 and len(stored(session_factory, Activity, "mem")) == 26
