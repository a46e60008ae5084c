"""A simulated month of every rhythm (heartbeat: scoreboards, MAPLE, control tower, monthly
review, game plan, alerts) for an org of ~100 people, drained through a Slack that throws
429s, 5xx, timeouts and dropped connections — and the same month with a well-behaved Slack.
Both end with the same deliveries, all sent, each in Slack exactly once.

CI: 100 people, one month, the heartbeat every 2 hours at :50 from 12:50 to 04:50 UTC (so
late runs inside the 2 h grace window are the normal path here; alert evaluation, ~30 ms per
rule per beat at this size, dominates the cost, so CI keeps the first alert rule only).
DRUMBEAT_SOAK=full: 500 people, every alert rule, a tick every hour from 12:50 to 03:50 UTC."""

from __future__ import annotations

import asyncio
import datetime as dt
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox import Faults
from bot.sandbox.users import seed_from_config
from metrics.clock import TravellingClock
from metrics.directory import apply_directory
from metrics.models import Person
from metrics.store import make_engine, make_session_factory
from rhythms.config import OrgConfig, parse_org_config
from rhythms.engine import RhythmEngine
from rhythms.heartbeat import heartbeat
from rhythms.models import Delivery, RhythmRun
from rhythms.registry import default_registry
from tests.bot.slack_env import bot, sandbox
from tests.conftest import EXAMPLE_CONFIG, fresh_database_url
from tests.reliability.support import FULL, delivery_ids_in_slack
from tests.support.rhythms import FakeScoreboards

PEOPLE = 500 if FULL else 100
START = dt.datetime(2026, 11, 1, 12, 50, tzinfo=dt.UTC)
DAYS = 30
ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")


def instants() -> list[dt.datetime]:
    if FULL:  # hourly through the US day and evening
        return [START + dt.timedelta(days=d, hours=h) for d in range(DAYS) for h in range(16)]
    return [START + dt.timedelta(days=d, hours=h) for d in range(DAYS) for h in range(16)]


def soak_org() -> OrgConfig:
    data: dict[str, Any] = tomllib.loads(EXAMPLE_CONFIG.read_text())
    extra = PEOPLE - len(data["people"])
    teams = [t["key"] for t in data["teams"]]
    data["people"] += [
        {
            "email": f"soak{i}@acme.example",
            "name": f"Soak Rep {i}",
            "role": "rep",
            "team": teams[i % len(teams)],
            "timezone": ZONES[i % len(ZONES)],
        }
        for i in range(extra)
    ]
    if not FULL:  # alert evaluation is per person and rule: one rule keeps CI inside budget
        data["alerts"] = data["alerts"][:1]
    return parse_org_config(data)


def month(factory: sessionmaker[Session], cfg: OrgConfig, faults: Faults | None) -> dict[str, Any]:
    clock = TravellingClock(START)
    engine = RhythmEngine(
        session_factory=factory,
        config=cfg,
        clock=clock,
        registry=default_registry(FakeScoreboards()),
        replica="soak",
    )
    errors: list[str] = []

    async def run() -> dict[str, Any]:
        with sandbox(faults=faults) as sb:
            ids = seed_from_config(sb.state, cfg)
            with factory() as s:
                apply_directory(s, cfg, today=START.date())
                for person in s.scalars(select(Person)):
                    person.slack_user_id = ids[person.email]
                s.commit()
            async with bot(sb, factory, http=False, timeout=0.25) as b:
                sender = b.sender(factory, clock, max_in_flight=16)
                for instant in instants():
                    clock.set(instant)
                    beat = await asyncio.to_thread(
                        heartbeat, session_factory=factory, config=cfg, clock=clock, engine=engine
                    )
                    errors.extend(beat.errors)
                    await sender.drain()
                    # A live sender retries within seconds, long before the deliveries
                    # expire (docs/delivery.md): so does this one, a minute at a time.
                    for _ in range(5):
                        with factory() as s:
                            retrying = s.scalars(
                                select(Delivery.id).where(Delivery.status == "failed")
                            ).first()
                        if retrying is None:
                            break
                        clock.advance(dt.timedelta(minutes=1))
                        await sender.drain()
                for _ in range(50):  # the last retries fall due as the clock moves on
                    clock.advance(dt.timedelta(minutes=5))
                    await sender.drain()
                    with factory() as s:
                        if not s.scalars(
                            select(Delivery).where(Delivery.status.not_in(("sent", "dead")))
                        ).first():
                            break
            posted = delivery_ids_in_slack(sb.state.all_messages())
            calls = Counter(c.error for c in sb.calls)
        with factory() as s:
            rows = s.scalars(select(Delivery)).all()
            runs = s.scalars(select(RhythmRun)).all()
        return {
            "posted": posted,
            "rows": {(d.rhythm, d.period_key, d.recipient, d.part): d for d in rows},
            "runs": Counter((r.rhythm, r.status) for r in runs),
            "calls": calls,
            "errors": errors,
        }

    return asyncio.run(run())


@pytest.mark.parametrize("engine_name", ["sqlite"])
def test_a_month_with_slack_faults_ends_like_a_month_without(
    session_factory: sessionmaker[Session], tmp_path: Path, sqlite_template: Path
) -> None:
    cfg = soak_org()
    twin_url = fresh_database_url(
        "sqlite", tmp_path, postgres_server=None, template=sqlite_template
    )
    twin_engine = make_engine(twin_url)
    calm = month(make_session_factory(twin_engine), cfg, None)
    faults = Faults(
        rate_429=0.1, rate_500=0.05, rate_timeout=0.01, rate_drop=0.02,
        timeout_seconds=0.3, retry_after=0.02, seed=21,
    )  # fmt: skip
    stormy = month(session_factory, cfg, faults)
    twin_engine.dispose()

    assert not calm["errors"] and not stormy["errors"], (calm["errors"] + stormy["errors"])[:3]
    assert stormy["calls"]["ratelimited"] > 10 and stormy["calls"]["dropped"] > 3
    assert set(stormy["rows"]) == set(calm["rows"])  # the same deliveries, keyed
    assert stormy["runs"] == calm["runs"]
    for result in (calm, stormy):
        rows = result["rows"].values()
        assert {d.status for d in rows} == {"sent"}, Counter(d.status for d in rows)
        messages = sorted(d.id for d in rows if d.kind == "message")
        assert sorted(result["posted"]) == messages  # each exactly once
    kinds = Counter(key[0] for key in calm["rows"])
    assert kinds["daily_scoreboard"] > PEOPLE * 10  # a month of working days for ~all reps
    assert len(kinds) >= 5, kinds
