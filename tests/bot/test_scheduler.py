from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.scheduler import HEARTBEAT_JOB_ID, SYNC_JOB_ID, create_scheduler
from metrics.clock import TravellingClock
from rhythms.engine import RhythmEngine
from rhythms.heartbeat import heartbeat
from rhythms.models import Delivery
from rhythms.registry import default_registry
from tests.support.rhythms import FakeScoreboards, make_config, seed_directory


def test_heartbeat_runs_the_engine(session_factory: sessionmaker[Session]) -> None:
    cfg = make_config()
    seed_directory(session_factory, cfg)
    clock = TravellingClock(dt.datetime(2026, 11, 24, 23, 30, tzinfo=dt.UTC))
    engine = RhythmEngine(
        session_factory=session_factory,
        config=cfg,
        clock=clock,
        registry=default_registry(FakeScoreboards()),
    )
    beat = heartbeat(session_factory=session_factory, config=cfg, clock=clock, engine=engine)
    assert beat.errors == [] and beat.tick is not None and beat.tick.outcomes
    with session_factory() as session:
        assert session.scalars(select(Delivery).where(Delivery.recipient == "UDANA01")).one()


def test_heartbeat_reports_a_broken_part_and_goes_on(
    session_factory: sessionmaker[Session],
) -> None:
    cfg = make_config()
    clock = TravellingClock(dt.datetime(2026, 11, 24, 23, 30, tzinfo=dt.UTC))

    class Broken:
        def tick(self) -> None:
            raise ConnectionError("database unreachable")

    beat = heartbeat(session_factory=session_factory, config=cfg, clock=clock, engine=Broken())  # type: ignore[arg-type]
    assert beat.tick is None
    assert beat.errors and "rhythm tick failed: ConnectionError" in beat.errors[0]
    assert beat.followups is not None  # the other parts still ran


def test_jobs_have_stable_ids() -> None:
    async def noop() -> None:
        return None

    async def scenario() -> list[tuple[str, int, bool]]:
        scheduler = create_scheduler(beat=noop, sync=noop, sync_minutes=15)
        scheduler.start(paused=True)
        try:
            return [(j.id, j.max_instances, j.coalesce) for j in scheduler.get_jobs()]
        finally:
            scheduler.shutdown(wait=False)

    assert asyncio.run(scenario()) == [(HEARTBEAT_JOB_ID, 1, True), (SYNC_JOB_ID, 1, True)]
