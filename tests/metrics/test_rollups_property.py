"""Property: after any sequence of syncs (inserts, moves in time, deletes, closes), rollups
refreshed incrementally from dirty marks equal a full rebuild. SQLite only, kept small."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.rollups import rebuild_rollups, refresh_rollups
from metrics.store import make_engine, make_session_factory
from tests.metrics.builders import Org, config, snapshot

BASE = dt.datetime(2026, 10, 30, tzinfo=dt.UTC)  # spans the US DST change on Nov 1
OWNERS = ("dana", "lee", "sam", "ghost")
KINDS = ("call", "email", "meeting")

instant = st.integers(min_value=0, max_value=5 * 96 - 1).map(
    lambda q: BASE + dt.timedelta(minutes=15 * q)
)
op = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(OWNERS), st.sampled_from(KINDS), instant),
    st.tuples(st.just("move"), st.integers(0, 50), instant),
    st.tuples(st.just("delete"), st.integers(0, 50)),
    st.tuples(st.just("deal"), st.sampled_from(OWNERS), instant, st.booleans()),
    st.tuples(st.just("close"), st.integers(0, 50), instant, st.booleans()),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=st.lists(st.lists(op, min_size=1, max_size=6), min_size=1, max_size=4))
def test_incremental_equals_full_rebuild(
    batches: list[list[tuple[object, ...]]], sqlite_template: Path, tmp_path: Path
) -> None:
    path = tmp_path / "prop.db"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        with make_session_factory(engine)() as session:
            cfg = config()
            org = Org(session, cfg, dt.date(2026, 10, 1))
            activities, deals = [], []
            for batch in batches:
                for step in batch:
                    _apply(org, step, activities, deals)
                refresh_rollups(session, config=cfg)
            incremental = snapshot(session)
            rebuild_rollups(session, config=cfg)
            assert snapshot(session) == incremental
            session.rollback()
    finally:
        engine.dispose()
        path.unlink(missing_ok=True)


def _apply(org: Org, step: tuple[object, ...], activities: list, deals: list) -> None:  # type: ignore[type-arg]
    kind = step[0]
    if kind == "add":
        _, owner, what, when = step
        booked = when - dt.timedelta(hours=30) if what == "meeting" else None  # type: ignore[operator]
        activities.append(
            (owner, org.activity(owner, what, when, booked_at=booked, outcome="completed"))  # type: ignore[arg-type]
        )
    elif kind == "move" and activities:
        owner, activity = activities[step[1] % len(activities)]  # type: ignore[call-overload]
        old = (activity.occurred_at, activity.booked_at)
        activity.occurred_at = step[2]
        if activity.booked_at is not None:
            activity.booked_at = step[2] - dt.timedelta(hours=7)  # type: ignore[operator]
        org.session.flush()
        org.mark(owner, *old, activity.occurred_at, activity.booked_at)
    elif kind == "delete" and activities:
        owner, activity = activities[step[1] % len(activities)]  # type: ignore[call-overload]
        activity.deleted = True
        org.session.flush()
        org.mark(owner, activity.occurred_at, activity.booked_at)
    elif kind == "deal":
        _, owner, when, euro = step
        deals.append(
            (owner, org.deal(owner, when, amount=1000, currency="EUR" if euro else "USD"))  # type: ignore[arg-type]
        )
    elif kind == "close" and deals:
        owner, deal = deals[step[1] % len(deals)]  # type: ignore[call-overload]
        old = deal.closed_at
        deal.closed_at = max(step[2], deal.created_at)  # type: ignore[type-var]
        deal.is_closed, deal.is_won = True, bool(step[3])
        org.session.flush()
        org.mark(owner, old, deal.closed_at)
