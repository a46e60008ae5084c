from __future__ import annotations

import datetime as dt
import math

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.sandbox.blockkit import validate_blocks
from metrics.directory import apply_directory
from metrics.models import MetricDaily, Person
from metrics.velocity import Velocity
from rhythms.config import load_org_config
from rhythms.control_tower import coaching_flags, control_tower, lever_split
from rhythms.control_tower_message import tower_chart, tower_message
from tests.conftest import EXAMPLE_CONFIG

CFG = load_org_config(EXAMPLE_CONFIG)
DAY = dt.date(2026, 11, 24)  # Tuesday
NOW = dt.datetime(2026, 11, 25, 13, 30, tzinfo=dt.UTC)  # Wed 08:30 New York


def _v(opps: int, win: float, size: float, cycle: float) -> Velocity:
    return Velocity(DAY, DAY, opps, win, size, cycle, opps * win * size / cycle)


def test_lever_split_explains_the_whole_change() -> None:
    before, after = _v(100, 0.25, 20000, 40), _v(100, 0.20, 20000, 40)
    split = lever_split(before, after)
    assert split is not None
    assert max(split, key=lambda k: abs(split[k])) == "win rate"
    assert sum(split.values()) == pytest.approx(math.log(after.value / before.value))
    slower = lever_split(_v(100, 0.25, 20000, 40), _v(100, 0.25, 20000, 50))
    assert slower is not None and slower["cycle length"] < 0
    assert lever_split(_v(0, 0.2, 1, 1), after) is None


def _put(session: Session, person: Person, metric: str, day: dt.date, value: float) -> None:
    session.add(
        MetricDaily(
            person_id=person.id, metric=metric, day=day, value=value, team_key=person.team_key
        )
    )


def test_control_tower_names_the_lagging_team_and_flags_reps(session: Session) -> None:
    apply_directory(session, CFG, today=DAY)
    people = {p.email.split(".")[0]: p for p in session.scalars(select(Person))}
    for name in ("dana", "leo", "aisha", "ben"):  # SDRs: on target
        for back in range(7):
            day = DAY - dt.timedelta(days=back)
            _put(session, people[name], "calls", day, 60)
            _put(session, people[name], "connected_calls", day, 12)
            _put(session, people[name], "emails", day, 40)
            _put(session, people[name], "meetings_booked", day, 2)
    for name in ("chloe", "diego", "emma"):  # AEs: a fraction of their inputs
        _put(session, people[name], "calls", DAY, 3)
        _put(session, people[name], "emails", DAY, 5)
    for name in ("farah", "george"):
        _put(session, people[name], "calls", DAY, 10)
        _put(session, people[name], "emails", DAY, 20)
        _put(session, people[name], "meetings_booked", DAY, 1)
    session.commit()
    tower = control_tower(session, config=CFG, day=DAY, now=NOW)
    by_key = {t.team_key: t for t in tower.teams}
    assert by_key["sdr"].input_share is not None and by_key["sdr"].input_share >= 1.0
    assert by_key["ae"].input_share is not None and by_key["ae"].input_share < 0.5
    assert tower.attention[0].startswith("*Account Executives* is at")
    flagged = {f.person: f.kind for f in tower.flags}
    assert flagged["Chloe Wu"] == "not enough activity"
    assert "Dana Ruiz" not in flagged
    message = tower_message(tower)
    assert validate_blocks(message["blocks"]) == []
    assert "Account Executives" in message["text"]
    png = tower_chart(tower, CFG.org)
    assert png is not None and png.startswith(b"\x89PNG")


def test_busy_but_not_converting(session: Session) -> None:
    apply_directory(session, CFG, today=DAY)
    people = {p.email.split(".")[0]: p for p in session.scalars(select(Person))}
    start = DAY - dt.timedelta(days=6)
    for name, meetings in (("dana", 12), ("leo", 10), ("aisha", 11), ("ben", 1)):
        for back in range(7):
            day = DAY - dt.timedelta(days=back)
            _put(session, people[name], "calls", day, 70)
            _put(session, people[name], "emails", day, 45)
        _put(session, people[name], "meetings_booked", DAY, meetings)
    session.commit()
    flags = {f.person: f for f in coaching_flags(session, config=CFG, start=start, end=DAY)}
    assert flags["Ben Carter"].kind == "busy but not converting"
    assert "Dana Ruiz" not in flags
