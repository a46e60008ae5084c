"""Catch-up sends a rhythm once: of the firings missed within the grace window only the
latest runs; the earlier ones are recorded `skipped` as superseded (both databases)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from metrics.clock import TravellingClock
from rhythms.engine import RhythmEngine
from rhythms.models import Delivery, RhythmRun
from rhythms.registry import default_registry
from tests.support.rhythms import REPS, FakeScoreboards, make_config, seed_directory

UTC = dt.UTC
REP_IDS = {slack for *_x, slack in REPS}


def _engine(
    factory: sessionmaker[Session], clock: TravellingClock, **overrides: object
) -> RhythmEngine:
    cfg = make_config(**overrides)
    seed_directory(factory, cfg)
    return RhythmEngine(
        session_factory=factory,
        config=cfg,
        clock=clock,
        registry=default_registry(FakeScoreboards()),
    )


def _runs(factory: sessionmaker[Session]) -> dict[str, RhythmRun]:
    with factory() as session:
        rows = session.scalars(select(RhythmRun).where(RhythmRun.rhythm == "daily_scoreboard"))
        return {r.period_key: r for r in rows}


def _dm_keys(factory: sessionmaker[Session]) -> Counter[str]:
    with factory() as session:
        rows = session.scalars(select(Delivery).where(Delivery.rhythm == "daily_scoreboard"))
        return Counter(d.period_key for d in rows if d.recipient in REP_IDS)


EVERY_MINUTE = {"schedule": "* * * * *", "timezone": "UTC", "working_days_only": False}
HOURLY = {"schedule": "0 * * * *", "timezone": "UTC", "working_days_only": False}


def test_first_start_on_an_every_minute_schedule_sends_once(
    session_factory: sessionmaker[Session],
) -> None:
    """The review's 06 repro: first start at 12:00:30 UTC; the grace window (120 min) holds
    the firings 10:01 … 12:00 — 120 of them. One run, one DM per rep; 119 superseded."""
    clock = TravellingClock(dt.datetime(2026, 11, 24, 12, 0, 30, tzinfo=UTC))
    engine = _engine(session_factory, clock, **EVERY_MINUTE)
    report = engine.tick()
    assert (report.planned, report.skipped) == (1, 119)
    assert [o.period_key for o in report.outcomes] == ["daily_scoreboard:2026-11-24T1200:UTC"]
    runs = _runs(session_factory)
    assert Counter(r.status for r in runs.values()) == {"done": 1, "skipped": 119}
    first = runs["daily_scoreboard:2026-11-24T1001:UTC"]
    assert (first.error or "").startswith("superseded: due Tue 10:01 UTC")
    assert "daily_scoreboard:2026-11-24T1200:UTC" in (first.error or "")
    assert _dm_keys(session_factory) == {"daily_scoreboard:2026-11-24T1200": 4}
    # the next minute runs on time, once
    clock.advance(dt.timedelta(minutes=1))
    assert engine.tick().planned == 1
    assert _dm_keys(session_factory)["daily_scoreboard:2026-11-24T1201"] == 4


def test_hourly_schedule_after_two_hours_down_sends_the_latest_only(
    session_factory: sessionmaker[Session],
) -> None:
    clock = TravellingClock(dt.datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    engine = _engine(session_factory, clock, **HOURLY)
    engine.tick()  # 10:00 on time
    clock.set(dt.datetime(2026, 11, 24, 12, 30, tzinfo=UTC))  # down 10:00 → 12:30
    report = engine.tick()
    assert (report.planned, report.skipped) == (1, 1)
    runs = _runs(session_factory)
    eleven = runs["daily_scoreboard:2026-11-24T1100:UTC"]
    assert eleven.status == "skipped"
    assert "superseded" in (eleven.error or "")
    assert runs["daily_scoreboard:2026-11-24T1200:UTC"].status == "done"
    assert _dm_keys(session_factory) == {
        "daily_scoreboard:2026-11-24T1000": 4,
        "daily_scoreboard:2026-11-24T1200": 4,
    }


def test_a_run_planned_before_a_crash_is_superseded_by_the_next_firing(
    session_factory: sessionmaker[Session],
) -> None:
    """10:00 was planned, then the process died before executing it; back at 11:30 the
    10:00 run is still within grace (90 min late) but 11:00 is due too: only 11:00 runs."""
    clock = TravellingClock(dt.datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    engine = _engine(session_factory, clock, **HOURLY)
    # first start: 08:00 and 09:00 are in the 120 min window too, superseded by 10:00
    assert engine.plan(clock.now()) == (1, 2)  # 10:00 planned, never executed
    clock.set(dt.datetime(2026, 11, 24, 11, 30, tzinfo=UTC))
    report = engine.tick()
    assert (report.planned, report.skipped) == (1, 1)
    runs = _runs(session_factory)
    ten = runs["daily_scoreboard:2026-11-24T1000:UTC"]
    assert ten.status == "skipped" and (ten.error or "").startswith("superseded:")
    assert runs["daily_scoreboard:2026-11-24T1100:UTC"].status == "done"
    assert _dm_keys(session_factory) == {"daily_scoreboard:2026-11-24T1100": 4}


def test_a_daily_rhythm_due_again_sends_today_not_yesterday(
    session_factory: sessionmaker[Session],
) -> None:
    """grace_minutes = 1440 (the most allowed): back exactly at Tue 17:30 Chicago, Monday's
    17:30 (1440 min late) and Tuesday's (on time) are both within grace. Monday's board is
    stale: Tuesday's is sent, Monday's recorded as superseded."""
    clock = TravellingClock(dt.datetime(2026, 11, 23, 23, 0, tzinfo=UTC))  # Mon 17:00 CST
    engine = _engine(session_factory, clock, grace_minutes=1440)
    engine.tick()  # nothing in Chicago yet (Fri 17:30 is 71.5 h ago)
    clock.set(dt.datetime(2026, 11, 24, 23, 30, tzinfo=UTC))  # Tue 17:30 CST
    engine.tick()
    runs = _runs(session_factory)
    monday = runs["daily_scoreboard:2026-11-23:America/Chicago"]
    assert monday.status == "skipped" and "superseded" in (monday.error or "")
    assert runs["daily_scoreboard:2026-11-24:America/Chicago"].status == "done"
    with session_factory() as session:
        dana = session.scalars(
            select(Delivery.period_key).where(Delivery.recipient == "UDANA01")
        ).all()
    assert dana == ["daily_scoreboard:2026-11-24"]
