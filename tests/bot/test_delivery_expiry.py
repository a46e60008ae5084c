"""Deliveries expire: a run's messages left unsent by downtime are recorded `expired`, never
sent days late at night; runs missed because of downtime are told to the admin channel
once; `drumbeat run` logs one INFO line per heartbeat that did something."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.runtime import beat_summary
from bot.sandbox.users import seed_from_config
from metrics.clock import TravellingClock
from rhythms.engine import RhythmEngine, RunOutcome, TickReport
from rhythms.heartbeat import Beat
from rhythms.models import Delivery, RhythmRun
from rhythms.outbox import enqueue
from rhythms.registry import default_registry
from tests.bot.slack_env import bot, sandbox
from tests.support.rhythms import FakeScoreboards, make_config, seed_directory

UTC = dt.UTC
MON = dt.datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # Mon 17:30 Chicago: the scoreboard
WED = dt.datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # Wed 03:00 Chicago


def engine(factory: sessionmaker[Session], at: dt.datetime, replica: str) -> RhythmEngine:
    return RhythmEngine(
        session_factory=factory,
        config=make_config(),
        clock=TravellingClock(at),
        registry=default_registry(FakeScoreboards()),
        replica=replica,
    )


def test_a_runs_deliveries_expire_at_its_grace_window_and_are_never_sent_late(
    session_factory: sessionmaker[Session],
) -> None:
    """The review's stale.py: Monday's run writes the DMs, the process dies, it comes back
    Wednesday at 03:00 local. Nothing of Monday's is sent; the rows say `expired`."""
    cfg = make_config()
    seed_directory(session_factory, cfg)
    engine(session_factory, MON, "a").tick()
    grace = dt.timedelta(minutes=cfg.rhythms["daily_scoreboard"].grace_minutes)
    with session_factory() as session:
        written = session.execute(
            select(Delivery.expires_at, RhythmRun.scheduled_for)
            .join(RhythmRun, RhythmRun.id == Delivery.run_id)
            .where(Delivery.rhythm == "daily_scoreboard")
        ).all()
    assert written and all(expires == due + grace for expires, due in written)
    clock = TravellingClock(WED)

    async def scenario() -> list[dict[str, object]]:
        with sandbox() as sb:
            seed_from_config(sb.state, cfg)
            async with bot(sb, session_factory, http=False) as b:
                await b.sender(session_factory, clock).drain()
            return sb.state.dm_messages("UDANA01")

    assert asyncio.run(scenario()) == []  # not at 3 am, not at all
    with session_factory() as session:
        mondays = session.scalars(
            select(Delivery).where(Delivery.rhythm == "daily_scoreboard")
        ).all()
    assert mondays and {d.status for d in mondays} == {"expired"}
    assert all(d.sent_at is None for d in mondays)


def test_a_thread_reply_whose_parent_never_went_out_expires_too(
    session_factory: sessionmaker[Session],
) -> None:
    clock = TravellingClock(MON + dt.timedelta(hours=5))
    with session_factory() as session, session.begin():
        parent = enqueue(
            session,
            rhythm="digest",
            period_key="w",
            recipient="#gone",
            payload={"text": "p"},
            now=MON,
        )
        session.flush()
        parent.status = "dead"
        enqueue(
            session,
            rhythm="digest",
            period_key="w",
            recipient="#gone",
            part="reply",
            thread_of_id=parent.id,
            payload={"text": "r"},
            now=MON,
        )

    async def scenario() -> None:
        with sandbox() as sb:
            async with bot(sb, session_factory, http=False) as b:
                await b.sender(session_factory, clock).drain()

    asyncio.run(scenario())
    with session_factory() as session:
        reply = session.scalars(select(Delivery).where(Delivery.part == "reply")).one()
    assert reply.status == "expired"  # not pending forever behind a parent that never went out


def test_default_expiries_by_kind(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session, session.begin():
        eph = enqueue(
            session,
            rhythm="commands",
            period_key="k",
            recipient="C1",
            kind="ephemeral",
            payload={"user": "U1", "text": "x"},
            now=MON,
        )
        msg = enqueue(
            session, rhythm="alerts", period_key="k", recipient="C1", payload={"text": "x"}, now=MON
        )
        assert eph.expires_at == MON + dt.timedelta(minutes=10)
        assert msg.expires_at == MON + dt.timedelta(hours=4)


def test_runs_missed_in_downtime_are_told_to_the_admin_channel_once(
    session_factory: sessionmaker[Session],
) -> None:
    cfg = make_config()
    seed_directory(session_factory, cfg)
    engine(session_factory, MON - dt.timedelta(hours=1), "a").tick()  # up before 17:30 Monday
    report = engine(session_factory, WED, "b").tick()  # down until Wednesday 03:00
    assert report.skipped >= 1
    engine(session_factory, WED + dt.timedelta(minutes=1), "c").tick()  # once, not per tick
    with session_factory() as session:
        notices = session.scalars(
            select(Delivery).where(Delivery.part == "missed", Delivery.recipient == "#revops")
        ).all()
    assert notices and len(notices) == report.skipped
    assert len({(n.rhythm, n.period_key) for n in notices}) == len(notices)
    text = " ".join(str(n.payload["text"]) for n in notices)
    assert "daily_scoreboard" in text and "grace window" in text and "not sent late" in text


def test_a_heartbeat_that_did_something_is_one_info_line() -> None:
    tick = TickReport(
        planned=1,
        skipped=2,
        outcomes=(RunOutcome(1, "daily_scoreboard:2026-11-23", "done", 40),),
    )
    line = beat_summary(Beat(tick=tick, alerts_fired=3))
    assert line == (
        "1 run(s) done, 40 deliveries written, 1 planned, 2 missed or skipped when planned, "
        "3 alert(s) fired"
    )
    assert beat_summary(Beat(tick=TickReport(0, 0, ()))) == ""
