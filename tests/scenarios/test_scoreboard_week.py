"""End to end over the Slack sandbox: the engine ticks through days with a travelling clock,
the outbox sender drains to the sandbox over HTTP, a restart happens mid-week. Each rep gets
exactly one scoreboard DM per working day, at 17:30 their time, valid Block Kit."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from metrics.clock import TravellingClock
from rhythms.engine import RhythmEngine
from rhythms.models import Delivery
from rhythms.registry import default_registry
from tests.bot.slack_env import bot, sandbox
from tests.support.rhythms import REPS, FakeScoreboards, make_config, seed_directory

UTC = dt.UTC


def test_scoreboards_reach_slack_once_per_working_day(
    session_factory: sessionmaker[Session],
) -> None:
    cfg = make_config()
    seed_directory(session_factory, cfg)
    # Wed 25 Nov .. Fri 27 Nov 2026: Thursday is Thanksgiving.
    clock = TravellingClock(dt.datetime(2026, 11, 25, 21, 0, tzinfo=UTC))
    end = dt.datetime(2026, 11, 28, 3, 0, tzinfo=UTC)

    def new_engine() -> RhythmEngine:
        return RhythmEngine(
            session_factory=session_factory,
            config=cfg,
            clock=clock,
            registry=default_registry(FakeScoreboards()),
        )

    async def scenario() -> dict[str, list[dict[str, object]]]:
        with sandbox() as sb:
            for email, name, zone, slack in REPS:
                sb.state.add_user(slack, name=name, email=email, tz=zone)
            sb.state.add_user("UMARIA1", name="maria", email="maria@acme.example")
            sb.state.add_channel("#team-sdr")
            sb.state.add_channel("#revops")
            async with bot(sb, session_factory, clock=clock, http=False) as b:
                engine, sender = new_engine(), b.sender(session_factory, clock)
                restarted = False
                while clock.now() < end:
                    clock.advance(dt.timedelta(minutes=15))
                    if not restarted and clock.now() >= dt.datetime(2026, 11, 26, 12, tzinfo=UTC):
                        engine, sender = new_engine(), b.sender(session_factory, clock)
                        restarted = True
                    await asyncio.to_thread(engine.tick)
                    await sender.drain()
            return {slack: sb.state.dm_messages(slack) for *_x, slack in REPS} | {
                "#team-sdr": sb.state.messages("#team-sdr")
            }

    received = asyncio.run(scenario())
    with session_factory() as session:
        rows = session.scalars(select(Delivery)).all()
        assert {d.status for d in rows} == {"sent"}, Counter(d.status for d in rows)
        sent_at = {(d.recipient, d.period_key): d.sent_at for d in rows}
    for _email, _name, zone, slack in REPS:
        messages = received[slack]
        assert len(messages) == 2, (slack, len(messages))  # Wed and Fri, not Thanksgiving
        days = sorted(key.split(":")[1] for (rcpt, key) in sent_at if rcpt == slack)
        assert days == ["2026-11-25", "2026-11-27"]
        for (rcpt, _key), when in sent_at.items():
            if rcpt == slack:
                assert when is not None
                local = when.astimezone(ZoneInfo(zone))
                assert (local.hour, local.minute) == (17, 30)
        for message in messages:
            assert message.get("blocks"), "sent as Block Kit"
            assert "inputs on pace" in str(message.get("text"))
    assert len(received["#team-sdr"]) == 2
