"""A preview at a time the rhythm would not run says so and shows its next real firing
(the review's "Winning: all 4 inputs on pace — calls 0/0" on a Saturday)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from metrics.clock import TravellingClock
from rhythms.engine import RhythmEngine
from rhythms.preview import preview
from rhythms.registry import Outgoing, default_registry
from tests.support.rhythms import FakeScoreboards, make_config, seed_directory

EST = dt.timezone(dt.timedelta(hours=-5))
LEO = "leo@acme.example"  # a rep in New York; daily_scoreboard is "30 17 * * mon-fri"


def _preview(factory: sessionmaker[Session], at: dt.datetime) -> Outgoing:
    cfg = make_config()
    seed_directory(factory, cfg)
    engine = RhythmEngine(
        session_factory=factory,
        config=cfg,
        clock=TravellingClock(at),
        registry=default_registry(FakeScoreboards()),
    )
    with factory() as session:
        (out,) = preview(engine, session, rhythm_name="daily_scoreboard", at=at, person_email=LEO)
        session.rollback()
    return out


def _header(out: Outgoing) -> str:
    return next(b["text"]["text"] for b in out.payload["blocks"] if b["type"] == "header")


def test_a_saturday_is_not_a_firing_the_next_one_is_shown(
    session_factory: sessionmaker[Session],
) -> None:
    out = _preview(session_factory, dt.datetime(2026, 12, 12, 17, 30, tzinfo=EST))
    note = (
        "daily_scoreboard would not run at Sat 12 Dec 17:30 EST: not a firing of its schedule "
        "('30 17 * * mon-fri' in America/New_York); shown: its next firing, Mon 14 Dec 17:30 EST"
    )
    assert str(out.payload["text"]).startswith(f"[preview: {note}")
    first = out.payload["blocks"][0]
    assert first["type"] == "context" and note in first["elements"][0]["text"]
    assert "Mon 14 Dec" in _header(out)


def test_a_holiday_firing_is_not_a_working_day(session_factory: sessionmaker[Session]) -> None:
    """Thanksgiving (Thu 26 Nov 2026) matches the cron but is not a working day."""
    out = _preview(session_factory, dt.datetime(2026, 11, 26, 17, 30, tzinfo=EST))
    text = str(out.payload["text"])
    assert "would not run at Thu 26 Nov 17:30 EST: not a working day (Thanksgiving" in text
    assert "its next firing, Fri 27 Nov 17:30 EST" in text
    assert "Fri 27 Nov" in _header(out)


def test_between_firings_the_days_firing_is_shown(session_factory: sessionmaker[Session]) -> None:
    out = _preview(session_factory, dt.datetime(2026, 11, 24, 10, 0, tzinfo=EST))
    assert "would not run at Tue 24 Nov 10:00 EST: not a firing" in str(out.payload["text"])
    assert "its next firing, Tue 24 Nov 17:30 EST" in str(out.payload["text"])


def test_at_a_firing_or_within_its_grace_the_run_is_shown_as_is(
    session_factory: sessionmaker[Session],
) -> None:
    for at in (
        dt.datetime(2026, 11, 24, 17, 30, tzinfo=EST),
        dt.datetime(2026, 11, 24, 19, 30, tzinfo=EST),  # 120 min late: still caught up
    ):
        out = _preview(session_factory, at)
        assert not str(out.payload["text"]).startswith("[preview:")
        assert out.payload["blocks"][0]["type"] == "header"
        assert "Tue 24 Nov" in _header(out)
