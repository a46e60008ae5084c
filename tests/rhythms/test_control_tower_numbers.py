"""The control tower's plan numbers: input pace, coverage, the velocity lever, units."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.sandbox.blockkit import validate_blocks
from metrics.config import TargetSet
from metrics.directory import apply_directory
from metrics.models import MetricDaily, Person
from metrics.velocity import Velocity
from rhythms.blocks import fmt_number
from rhythms.config import load_org_config
from rhythms.control_tower import TeamLine, Tower, attention, control_tower, lever_split, main_lever
from rhythms.control_tower_message import tower_message
from tests.conftest import EXAMPLE_CONFIG

CFG = load_org_config(EXAMPLE_CONFIG)
DAY = dt.date(2026, 11, 24)  # Tuesday
NOW = dt.datetime(2026, 11, 25, 13, 30, tzinfo=dt.UTC)  # Wed 08:30 New York


def _v(opps: int, win: float, size: float, cycle: float) -> Velocity:
    return Velocity(DAY, DAY, opps, win, size, cycle, opps * win * size / cycle)


def _put(session: Session, person: Person, metric: str, day: dt.date, value: float) -> None:
    session.add(
        MetricDaily(
            person_id=person.id, metric=metric, day=day, value=value, team_key=person.team_key
        )
    )


def _people(session: Session) -> dict[str, Person]:
    apply_directory(session, CFG, today=DAY)
    return {p.email.split(".")[0]: p for p in session.scalars(select(Person))}


def _line(before: Velocity, after: Velocity) -> TeamLine:
    lever = main_lever(lever_split(before, after))
    return TeamLine(
        "ae",
        "AE",
        (),
        None,
        0.0,
        None,
        None,
        after,
        before,
        lever[0] if lever else None,
        lever[1] if lever else None,
        0.0,
        0.0,
    )


def _tower(*lines: TeamLine) -> Tower:
    return Tower(
        DAY, lines, (), tuple(attention(list(lines), [])), _v(1, 1, 1, 1), _v(1, 1, 1, 1), "USD"
    )


def test_the_lever_named_moved_velocity_the_way_it_went() -> None:
    before, after = _v(10, 0.5, 1000, 10), _v(15, 0.75, 550, 10)  # +24%, deal size -45%
    assert after.value / before.value - 1 == pytest.approx(0.2375)
    rose = _line(before, after)
    assert rose.lever in ("more opportunities", "win rate") and (rose.lever_change or 0) > 0
    text = str(tower_message(_tower(rose))["blocks"])
    assert "rose mostly on *more opportunities* (+50%)" in text
    assert "fell" not in text and "deal size" not in text
    assert not any("fell" in a for a in attention([rose], []))
    fell = _line(after, before)  # the same, backwards: -19%, deal size +82% is not why
    assert fell.lever in ("more opportunities", "win rate") and (fell.lever_change or 0) < 0
    text = str(tower_message(_tower(fell))["blocks"])
    assert "fell mostly on *more opportunities* (-33%)" in text
    assert attention([fell], []) == [
        "*AE* velocity fell mostly on *more opportunities* (-33% week over week)."
    ]
    assert main_lever(lever_split(before, before)) is None
    assert main_lever({"win rate": -0.5, "deal size": 0.2}) == ("win rate", -0.5)
    assert main_lever({"win rate": 0.5, "deal size": -0.2}) == ("win rate", 0.5)


def test_input_pace_weighs_dollars_and_counts_alike(session: Session) -> None:
    """AE inputs all red but pipeline created far over pace: not '130% of input pace'."""
    people = _people(session)
    for name in ("chloe", "diego", "emma"):
        _put(session, people[name], "pipeline_created", DAY, 150000)
        _put(session, people[name], "calls", DAY, 1)
    session.commit()
    tower = control_tower(session, config=CFG, day=DAY, now=NOW)
    ae = next(t for t in tower.teams if t.team_key == "ae")
    paced = [(label, value, pace) for label, value, pace, _, _ in ae.inputs if pace]
    shares = [min(value / pace, 2.0) for _, value, pace in paced]
    assert ae.input_share == pytest.approx(sum(shares) / len(shares))
    assert ae.input_share is not None and ae.input_share < 0.5
    assert [s for s in shares if s >= 1] == [2.0]  # only pipeline is over pace
    message = tower_message(tower)
    assert validate_blocks(message["blocks"]) == []
    text = str(message["blocks"])
    assert f"*Account Executives* · {ae.input_share:.0%} of input pace" in text
    assert "*Pipeline created*\\n$450k / $" in text  # money in money, not 450,000 / 54,000
    assert "*Calls*\\n3 / 45" in text


def test_coverage_uses_rep_targets_and_is_na_when_nothing_remains(session: Session) -> None:
    people = _people(session)
    _put(session, people["farah"], "bookings", DAY, 90000)  # CS: 2 reps × $40k, made
    session.commit()
    priya = tuple(  # the CS manager's own quota is not her team's
        p.model_copy(update={"targets": {"bookings": TargetSet(monthly=100000)}})
        if p.email.startswith("priya.")
        else p
        for p in CFG.people
    )
    cfg = CFG.model_copy(update={"people": priya})
    tower = control_tower(session, config=cfg, day=DAY, now=NOW)
    by_key = {t.team_key: t for t in tower.teams}
    # Priya (manager, on CS) not added; November has 19 working days of 21 weekdays
    # (Veterans Day, Thanksgiving): 80000 x 19/21
    assert by_key["cs"].bookings_target == 72380.952380952
    assert by_key["cs"].coverage is None
    text = str(tower_message(tower)["blocks"])
    assert "*Coverage*\\nn/a (target met)" in text
    assert "*Coverage*\\nn/a (no bookings target)" in text  # SDR has none


def test_fmt_number_percent_is_a_fraction() -> None:
    assert fmt_number(1.75, "percent") == "175%"
    assert fmt_number(0.38, "percent") == "38%"
    assert fmt_number(-0.05, "percent") == "-5%"
