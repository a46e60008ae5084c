"""Three replicas on one PostgreSQL, each running the whole heartbeat (rhythm tick, MAPLE
follow-ups, alert evaluation) and its own outbox sender against one Slack, at the same
travelling instants: one run per period, one Slack message per delivery, one alert message
per firing — whoever wins each race. CI runs three replicas; DRUMBEAT_SOAK=full adds two."""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox import running_sandbox
from bot.sandbox.users import seed_from_config
from metrics.directory import apply_directory
from metrics.models import MetricDaily, Person
from rhythms.config import load_org_config
from rhythms.models import Delivery, RhythmRun
from tests.bot.slack_env import TOKEN, fast_limits
from tests.conftest import EXAMPLE_CONFIG
from tests.reliability.support import FULL, delivery_ids_in_slack

DAY = dt.date(2026, 11, 23)  # a Monday
START = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
# Every 30 min through the US mornings (alert slots), every 15 min through the US evenings
# (17:30/17:45 scoreboards in four zones, 22:30-01:45 UTC).
INSTANTS = [START + dt.timedelta(minutes=30 * i) for i in range(15)] + [
    START + dt.timedelta(hours=7, minutes=30 + 15 * i) for i in range(14)
]


def replica(url: str, api_url: str, name: str, barrier: Any, results: Any) -> None:
    """One replica: its own engine, clock, connections, Slack client and sender."""
    from pydantic import SecretStr

    from bot.ratelimit import RateLimiter
    from bot.sender import Sender
    from bot.settings import Settings
    from bot.slack_client import make_http_session, make_slack_client
    from metrics.clock import TravellingClock
    from metrics.store import make_engine, make_session_factory
    from rhythms.engine import RhythmEngine
    from rhythms.heartbeat import heartbeat
    from rhythms.registry import default_registry
    from tests.bot.slack_env import FAST_RETRY, SIGNING_SECRET
    from tests.support.rhythms import FakeScoreboards

    async def main() -> tuple[int, list[str]]:
        db = make_engine(url)
        factory = make_session_factory(db)
        cfg = load_org_config(EXAMPLE_CONFIG)
        clock = TravellingClock(INSTANTS[0])
        engine = RhythmEngine(
            session_factory=factory,
            config=cfg,
            clock=clock,
            registry=default_registry(FakeScoreboards()),
            replica=name,
        )
        session = make_http_session(timeout=10)
        settings = Settings(
            slack_api_url=api_url,
            slack_bot_token=SecretStr(TOKEN),
            slack_signing_secret=SecretStr(SIGNING_SECRET),
        )
        sender = Sender(
            client=make_slack_client(settings, session=session),
            session_factory=factory,
            clock=clock,
            limiter=RateLimiter(scale=0.01),
            retry=FAST_RETRY,
            worker_id=name,
        )
        errors: list[str] = []
        for instant in INSTANTS:
            clock.set(instant)
            await asyncio.to_thread(barrier.wait, 60)
            beat = await asyncio.to_thread(
                heartbeat,
                session_factory=factory,
                config=cfg,
                clock=clock,
                engine=engine,
                replica=name,
            )
            errors += beat.errors
            await asyncio.to_thread(barrier.wait, 60)  # every replica drains after every beat
            await sender.drain()
        await session.close()
        db.dispose()
        return sender.sent, errors

    sent, errors = asyncio.run(main())
    results.put((name, sent, errors))


@pytest.mark.parametrize("replicas", [2, 3] if FULL else [3])
@pytest.mark.parametrize("engine_name", ["postgresql"])
def test_replicas_run_once_send_once_alert_once(
    db_url: str, session_factory: sessionmaker[Session], replicas: int
) -> None:
    cfg = load_org_config(EXAMPLE_CONFIG)
    with running_sandbox(token=TOKEN, limits=fast_limits()) as sb:
        ids = seed_from_config(sb.state, cfg)
        with session_factory() as s:
            apply_directory(s, cfg, today=DAY)
            people = {}
            for person in s.scalars(select(Person)):
                person.slack_user_id = ids[person.email]
                people[person.email.split(".")[0]] = person
            # Dana has 9 calls by 11:00: the "no calls by 11" style rules have a subject.
            s.add(
                MetricDaily(
                    person_id=people["dana"].id, metric="calls", day=DAY, value=9, team_key="sdr"
                )
            )
            s.commit()
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(replicas)
        results = ctx.Queue()
        procs = [
            ctx.Process(target=replica, args=(db_url, sb.api_url, f"r{i}", barrier, results))
            for i in range(replicas)
        ]
        for proc in procs:
            proc.start()
        outcome = [results.get(timeout=240) for _ in procs]
        for proc in procs:
            proc.join(timeout=30)
            assert proc.exitcode == 0
        posted = delivery_ids_in_slack(sb.state.all_messages())
        uploaded = [int(f["name"].split(".d")[-1].split(".")[0]) for f in sb.state.uploaded_files()]

    assert all(not errors for _n, _s, errors in outcome), outcome
    with session_factory() as session:
        runs = session.scalars(select(RhythmRun)).all()
        rows = session.scalars(select(Delivery)).all()
    assert set(Counter((r.rhythm, r.period_key) for r in runs).values()) == {1}  # one per period
    assert not [r for r in runs if r.status == "failed"], [(r.period_key, r.error) for r in runs]
    by_rhythm = Counter(d.rhythm for d in rows)
    assert by_rhythm["daily_scoreboard"] >= 5 and by_rhythm["team_scoreboard"] >= 1
    alert_rows = [d for d in rows if d.rhythm.startswith("alert")]
    assert alert_rows, by_rhythm  # an alert fired
    # Every delivery is sent and appears in Slack exactly once, whichever replica sent it.
    assert {d.status for d in rows} == {"sent"}
    assert sorted(posted) == sorted(d.id for d in rows if d.kind == "message")
    assert alert_rows and all(d.kind in ("message", "update") for d in alert_rows)
    assert sum(s for _n, s, _e in outcome) == len(rows)
    # One scoreboard message per recipient per day; one message per alert firing.
    messages = Counter(
        (d.rhythm, d.recipient, d.period_key)
        for d in rows
        if d.kind == "message" and (d.rhythm.endswith("scoreboard") or d in alert_rows)
    )
    assert messages and set(messages.values()) == {1}
    # Chart uploads: each file shared once.
    uploads = [d.id for d in rows if d.kind == "upload"]
    assert sorted(uploaded) == sorted(uploads)
