"""A rep's verdict (`metrics.scoreboard.overall_status`): one red input makes the rep red,
"needs help", whatever the other inputs — the band the alerts' `turns_red` pages on."""

from __future__ import annotations

import datetime as dt

from metrics.config import OrgSettings
from metrics.scoreboard import MetricStatus, PersonScoreboard, overall_status
from metrics.targets import status_for

DEFAULT = OrgSettings(name="Acme")  # green at 100% of pace, yellow from 80%


def graded(name: str, value: float, due: float, org: OrgSettings = DEFAULT) -> MetricStatus:
    return MetricStatus(
        metric=name,
        label=name.capitalize(),
        unit="count",
        kind="input",
        value=value,
        target=50.0,
        expected_now=due,
        status=status_for(value, due, org),
        shortfall=max(0.0, due - value),
    )


def rep(*metrics: MetricStatus) -> PersonScoreboard:
    return PersonScoreboard(
        person_id=1,
        name="Ben Carter",
        email="ben@acme.example",
        slack_user_id=None,
        team_key="sdrw",
        timezone="America/Los_Angeles",
        day=dt.date(2026, 11, 25),
        as_of=dt.datetime(2026, 11, 25, 22, 45, tzinfo=dt.UTC),
        metrics=metrics,
    )


def test_one_red_input_is_a_red_rep() -> None:
    # Ben at 14:45 in Los Angeles: 0 of 31 calls due (0%), 1 of 1 meeting (100%)
    assert overall_status(rep(graded("calls", 0, 31), graded("meetings", 1, 1))) == "red"
    # Leo: 14 of 38 calls due (37%) with his meeting booked
    assert overall_status(rep(graded("calls", 14, 38), graded("meetings", 1, 1))) == "red"
    # three inputs on pace do not outvote the fourth at 50% (their points average 1.5)
    many = [graded(n, 10, 10) for n in ("calls", "emails", "meetings")]
    assert overall_status(rep(*many, graded("opps", 1, 2))) == "red"


def test_without_a_red_input_half_green_is_green() -> None:
    assert overall_status(rep(graded("calls", 25, 31), graded("meetings", 1, 1))) == "green"
    assert overall_status(rep(graded("calls", 25, 31), graded("meetings", 4, 5))) == "yellow"
    assert overall_status(rep(graded("calls", 31, 31))) == "green"
    assert overall_status(rep()) == "none"
    # nothing due yet (09:00): on pace, not behind
    assert overall_status(rep(graded("calls", 0, 0), graded("meetings", 0, 0))) == "green"


def test_the_red_band_is_the_configured_one() -> None:
    """With `status_yellow_at = 0.5` 20 of 38 calls (53%) is yellow, not red: the rep is not
    flagged; 18 of 38 (47%) is red and flags them."""
    lenient = OrgSettings(name="Acme", status_yellow_at=0.5)
    meetings = graded("meetings", 1, 1, lenient)
    assert overall_status(rep(graded("calls", 20, 38, lenient), meetings)) == "green"
    assert overall_status(rep(graded("calls", 18, 38, lenient), meetings)) == "red"
