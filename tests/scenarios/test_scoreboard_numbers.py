"""The numbers in a rep's DM are the metrics engine's for that rep and day (real
`metrics.scoreboards`, rollup rows inserted directly), on both databases."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from metrics.clock import TravellingClock
from metrics.models import MetricDaily, Person
from metrics.scoreboards import person_scoreboard
from rhythms.engine import RhythmEngine
from rhythms.models import Delivery
from rhythms.scoreboard_message import rep_message
from tests.support.rhythms import make_config, seed_directory

UTC = dt.UTC
DAY = dt.date(2026, 11, 24)  # a Tuesday


def test_dm_numbers_equal_the_metrics_engine(session_factory: sessionmaker[Session]) -> None:
    cfg = make_config()
    seed_directory(session_factory, cfg)
    with session_factory() as session:
        people = {p.email: p for p in session.scalars(select(Person))}
        for offset in range(7):
            day = DAY - dt.timedelta(days=offset)
            for n, email in enumerate(("dana@acme.example", "aisha@acme.example")):
                person = people[email]
                session.add(
                    MetricDaily(
                        person_id=person.id,
                        metric="calls",
                        day=day,
                        value=float(30 + 10 * n + offset * 3),
                        team_key="sdr",
                    )
                )
                session.add(
                    MetricDaily(
                        person_id=person.id,
                        metric="meetings_booked",
                        day=day,
                        value=float(n + (offset % 2)),
                        team_key="sdr",
                    )
                )
        session.commit()
        dana = people["dana@acme.example"]
    at = dt.datetime(2026, 11, 24, 23, 30, tzinfo=UTC)  # 17:30 Chicago
    clock = TravellingClock(at)
    engine = RhythmEngine(session_factory=session_factory, config=cfg, clock=clock)
    engine.tick()
    with session_factory() as session:
        sent = session.scalars(select(Delivery).where(Delivery.recipient == "UDANA01")).one()
        board = person_scoreboard(session, config=cfg, person_id=dana.id, day=DAY, as_of=at)
    # the DM is the message of the engine's board, its buttons naming the rhythm that sent it
    assert sent.payload == json.loads(json.dumps(rep_message(board, rhythm=sent.rhythm)))
    calls = next(m for m in board.metrics if m.metric == "calls")
    assert calls.value == 30 and calls.target == 60
    text = sent.payload["text"]
    assert "calls 30/60" in text and "meetings booked 0/2" in text
    # 17:30 on a 09:00-18:00 day: 8.5/9 of the target is due, 56.7 calls: 56 whole calls,
    # 26 short; 1.9 meetings: 1 whole meeting.
    assert calls.expected_now == 56
    assert "26 more calls and 1 more meeting booked" in text
    assert board.team_rank == 2 and "#2 of" in json.dumps(sent.payload, ensure_ascii=False)
