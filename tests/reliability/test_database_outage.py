"""PostgreSQL stopped in the middle of a scoreboard fan-out and started again: the sender
keeps running, the engine's tick fails cleanly while the database is away and runs once it is
back, and every delivery reaches Slack exactly once.

A dedicated server (not the shared session one) is stopped with `pg_ctl stop -m fast`, which
kills every connection, including ones in the middle of a transaction. The outage lasts
`OUTAGE` seconds: 3 in CI, 30 (the issue's figure) with DRUMBEAT_SOAK=full.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import OperationalError

from bot import db
from metrics.clock import TravellingClock
from metrics.store import make_engine, make_session_factory
from rhythms.engine import RhythmEngine
from rhythms.models import Delivery
from rhythms.registry import default_registry
from tests.bot.slack_env import FAST_RETRY, bot, eventually, sandbox
from tests.reliability.support import (
    FIRES_AT,
    FULL,
    big_org,
    deliveries,
    delivery_ids_in_slack,
    fan_out,
    running_clock,
    slack_id,
    statuses,
)
from tests.support.postgres import PostgresUnavailable, running_postgres
from tests.support.rhythms import FakeScoreboards

REPS = 120
OUTAGE = 30.0 if FULL else 3.0


def test_postgres_down_mid_fan_out_loses_and_repeats_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    try:
        server_cm = running_postgres()
        server = server_cm.__enter__()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    try:
        admin = make_engine(server.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE outage"))
        admin.dispose()
        url = server.url("outage")
        db.upgrade(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        cfg = big_org(REPS)
        assert fan_out(factory, cfg) == REPS
        # The sender's clock is the next day (so the second run's rows are due); day one's
        # rows would have expired by then (tests/bot/test_delivery_expiry.py): keep them.
        with factory() as session, session.begin():
            session.execute(update(Delivery).values(expires_at=FIRES_AT + dt.timedelta(days=3)))

        async def scenario() -> list[int]:
            with sandbox() as sb:
                for i in range(REPS):
                    sb.state.add_user(slack_id(i), name=f"rep{i}")
                sb.state.add_user("UMARIA1", name="maria")
                sb.latency["chat.postMessage"] = 0.02  # a drain long enough to cut into
                async with bot(sb, factory, http=False) as b:
                    retry = dataclasses.replace(
                        FAST_RETRY, stale_claim_after=dt.timedelta(seconds=600)
                    )
                    sender = b.sender(
                        factory,
                        running_clock(FIRES_AT + dt.timedelta(days=1, minutes=1)),
                        retry=retry,
                        poll_interval=0.05,
                        max_in_flight=8,
                    )
                    stop = asyncio.Event()
                    task = asyncio.create_task(sender.run(stop))
                    await eventually(lambda: sb.count("chat.postMessage") >= 20, within=60)
                    await asyncio.to_thread(server.stop, "fast")
                    down_since = time.monotonic()
                    # While it is down: the engine's tick fails with a clear database error.
                    next_day = FIRES_AT + dt.timedelta(days=1)
                    rhythm_engine = RhythmEngine(
                        session_factory=factory,
                        config=cfg,
                        clock=TravellingClock(next_day),
                        registry=default_registry(FakeScoreboards()),
                        replica="during-outage",
                    )
                    with pytest.raises(OperationalError):
                        await asyncio.to_thread(rhythm_engine.tick)
                    await eventually(
                        lambda: (
                            sender.db_error is not None  # the drain met the outage
                            and time.monotonic() - down_since >= OUTAGE
                        ),
                        within=OUTAGE + 60,
                    )
                    posted_while_down = sb.count("chat.postMessage")
                    await asyncio.to_thread(server.start)
                    # Back: the missed tick runs now (within its grace window).
                    report = await asyncio.to_thread(rhythm_engine.tick)
                    assert [o.status for o in report.outcomes] == ["done"]
                    sender.wake()
                    await eventually(
                        lambda: set(statuses(factory)) == {"sent"}, within=120 if FULL else 60
                    )
                    stop.set()
                    await task
                    assert sb.count("chat.postMessage") > posted_while_down
                return delivery_ids_in_slack(sb.state.all_messages())

        with caplog.at_level(logging.WARNING):
            posted = asyncio.run(scenario())
        rows = deliveries(factory)
        assert len(rows) == 2 * REPS  # two days of scoreboards
        assert sorted(posted) == sorted(rows)  # each exactly once
        engine.dispose()
    finally:
        server_cm.__exit__(None, None, None)
