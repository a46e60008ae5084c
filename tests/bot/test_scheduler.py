from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.scheduler import TICK_JOB_ID, create_scheduler, tick
from metrics.clock import TravellingClock
from rhythms.engine import RhythmEngine
from rhythms.models import Delivery
from rhythms.registry import default_registry
from tests.support.rhythms import FakeScoreboards, make_config, seed_directory


def _engine(factory: sessionmaker[Session]) -> RhythmEngine:
    cfg = make_config()
    seed_directory(factory, cfg)
    clock = TravellingClock(dt.datetime(2026, 11, 24, 23, 30, tzinfo=dt.UTC))
    return RhythmEngine(
        session_factory=factory,
        config=cfg,
        clock=clock,
        registry=default_registry(FakeScoreboards()),
    )


def test_tick_runs_the_engine_off_the_loop(session_factory: sessionmaker[Session]) -> None:
    engine = _engine(session_factory)
    report = asyncio.run(tick(engine))
    assert report is not None and report.outcomes
    with session_factory() as session:
        assert session.scalars(select(Delivery).where(Delivery.recipient == "UDANA01")).one()


def test_tick_survives_a_broken_database() -> None:
    class Broken:
        def tick(self) -> None:
            raise ConnectionError("database unreachable")

    assert asyncio.run(tick(Broken())) is None  # type: ignore[arg-type]


def test_one_tick_job_with_a_stable_id(session_factory: sessionmaker[Session]) -> None:
    engine = _engine(session_factory)

    async def scenario() -> list[str]:
        scheduler = create_scheduler(engine)
        scheduler.start(paused=True)
        try:
            jobs = scheduler.get_jobs()
            assert jobs[0].max_instances == 1 and jobs[0].coalesce
            return [job.id for job in jobs]
        finally:
            scheduler.shutdown(wait=False)

    assert asyncio.run(scenario()) == [TICK_JOB_ID]
