"""Two scheduler processes ticking the engine against one PostgreSQL at the same travelling
instants: exactly one scoreboard DM per rep per working day, whoever wins each race."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.rhythms import REPS, make_config, seed_directory

UTC = dt.UTC
WEEK = [dt.date(2026, 11, 16) + dt.timedelta(days=d) for d in range(3)]  # Mon-Wed


def tick_instants() -> list[dt.datetime]:
    """Every 15 min from 22:00 to 02:00 UTC each weekday: all US 17:30/17:45 firings."""
    out: list[dt.datetime] = []
    for day in WEEK:
        start = dt.datetime.combine(day, dt.time(22, 0), tzinfo=UTC)
        out.extend(start + dt.timedelta(minutes=15 * i) for i in range(17))
    return out


def replica(url: str, name: str, barrier: Any, results: Any) -> None:
    """One scheduler process: its own engine, clock and connections; ticks at each instant."""
    from metrics.clock import TravellingClock
    from metrics.store import make_engine, make_session_factory
    from rhythms.engine import RhythmEngine
    from rhythms.registry import default_registry
    from tests.support.rhythms import FakeScoreboards

    db = make_engine(url)
    instants = tick_instants()
    clock = TravellingClock(instants[0])
    engine = RhythmEngine(
        session_factory=make_session_factory(db),
        config=make_config(),
        clock=clock,
        registry=default_registry(FakeScoreboards()),
        replica=name,
    )
    executed = 0
    for instant in instants:
        clock.set(instant)
        barrier.wait(timeout=60)
        executed += len(engine.tick().outcomes)
    db.dispose()
    results.put((name, executed))


@pytest.mark.parametrize("engine_name", ["postgresql"])
def test_two_processes_one_dm_per_rep_per_day(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    from rhythms.models import Delivery, RhythmRun

    seed_directory(session_factory, make_config())
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    procs = [ctx.Process(target=replica, args=(db_url, f"r{i}", barrier, results)) for i in (1, 2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    executed = dict(results.get(timeout=5) for _ in procs)
    with session_factory() as session:
        dms = session.scalars(select(Delivery).where(Delivery.rhythm == "daily_scoreboard")).all()
        per_rep_day = Counter((d.recipient, d.period_key.split(":")[1]) for d in dms)
        expected = {(slack, day.isoformat()) for *_x, slack in REPS for day in WEEK}
        assert set(per_rep_day) == expected
        assert set(per_rep_day.values()) == {1}
        runs = session.scalars(select(RhythmRun)).all()
        assert {r.status for r in runs} == {"done"}
        assert {r.claimed_by for r in runs} <= {"r1", "r2"}
        # Every run was executed by exactly one of the two processes.
        assert sum(executed.values()) == len(runs)
