"""The pipeline after a pull: incremental rollups after a second sync equal a full rebuild."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from metrics.clock import TravellingClock
from metrics.crm.demo import DemoConnector
from metrics.crm.demo_org import build_org, org_toml
from metrics.models import MetricDaily
from metrics.pipeline import sync_and_roll_up
from metrics.rollups import rebuild_rollups
from rhythms.config import parse_org_config


def _rows(session: Session) -> dict[tuple[int, str, dt.date], float]:
    return {
        (r.person_id, r.metric, r.day): round(r.value, 6)
        for r in session.scalars(select(MetricDaily))
    }


def test_incremental_equals_rebuild(session_factory: sessionmaker[Session]) -> None:
    import tomllib

    org = build_org(4, seed=11)
    config = parse_org_config(tomllib.loads(org_toml(org)))
    first_end = dt.datetime(2026, 11, 18, 22, 0, tzinfo=dt.UTC)
    clock = TravellingClock(first_end)
    first = sync_and_roll_up(
        DemoConnector(org, end=first_end, months=1),
        session_factory=session_factory,
        config=config,
        clock=clock,
    )
    assert first.sync.ok and first.rebuilt  # first pull: owners got mapped, so a rebuild
    assert first.rollups.rows_written > 0
    second_end = first_end + dt.timedelta(days=3, hours=5)
    clock.set(second_end)
    second = sync_and_roll_up(
        DemoConnector(org, end=second_end, months=1),
        session_factory=session_factory,
        config=config,
        clock=clock,
    )
    assert second.sync.ok and not second.rebuilt  # same owners: incremental
    assert second.rollups.dirty_processed > 0
    with session_factory() as session:
        incremental = _rows(session)
        rebuild_rollups(session, config=config)
        session.flush()
        assert _rows(session) == incremental
        session.rollback()
