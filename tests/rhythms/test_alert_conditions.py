"""Threshold conditions on hand-computed numbers: `below`, `above` and `below_pace_pct`,
each with its hysteresis band (breached, cleared, or neither), over the example config's SDRs
in three time zones at 18:30 UTC."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.directory import apply_directory
from metrics.models import MetricDaily, Person
from rhythms.alert_rules import observe, subjects_for
from rhythms.config import OrgConfig, load_org_config
from tests.conftest import EXAMPLE_CONFIG

MONDAY = dt.date(2026, 11, 23)
AT = dt.datetime(2026, 11, 23, 18, 30, tzinfo=dt.UTC)
# local time / share of the 9:00-18:00 day: Dana (Chicago) 12:30 / 3.5 h of 9, Aisha
# (Denver) 11:30 / 2.5 h, Leo and Ben (the org's New York) 13:30 / 4.5 h


def _observe(
    session: Session, cfg: OrgConfig, calls: dict[str, float], **rule: object
) -> dict[str, tuple[bool, bool, float | None, str]]:
    apply_directory(session, cfg, today=MONDAY)
    people = {p.email.split(".")[0]: p for p in session.scalars(select(Person))}
    for name, n in calls.items():
        person = people[name]
        session.add(
            MetricDaily(
                person_id=person.id, metric="calls", day=MONDAY, value=n, team_key=person.team_key
            )
        )
    session.commit()
    base = next(r for r in cfg.alerts if r.name == "sdr-no-calls-by-11")  # the SDRs' calls
    changed = base.model_copy(update=rule)
    seen = observe(
        session, config=cfg, rule=changed, subjects=subjects_for(session, cfg, changed), now=AT
    )
    by_id = {p.id: name for name, p in people.items()}
    return {
        by_id[s.subject.person.id]: (s.obs.breached, s.obs.cleared, s.obs.value, s.detail)
        for s in seen
        if s.subject.person is not None
    }


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # below 10: cleared from 10 × 1.05 = 10.5; Ben has no row today: 0
        (
            "below",
            {
                "dana": (True, False, 9),
                "leo": (False, False, 10),
                "aisha": (False, True, 11),
                "ben": (True, False, 0),
            },
        ),
        # above 10: cleared at or below 10 × 0.95 = 9.5
        (
            "above",
            {
                "dana": (False, True, 9),
                "leo": (False, False, 10),
                "aisha": (True, False, 11),
                "ben": (False, True, 0),
            },
        ),
    ],
)
def test_value_thresholds_with_their_hysteresis(
    session: Session, condition: str, expected: dict[str, tuple[bool, bool, float]]
) -> None:
    cfg = load_org_config(EXAMPLE_CONFIG)
    got = _observe(
        session,
        cfg,
        {"dana": 9, "leo": 10, "aisha": 11},
        condition=condition,
        value=10.0,
        by_time=None,
    )
    assert {name: got[name][:3] for name in expected} == expected
    # what the message says: the value, in the metric's words, and the rule's threshold
    assert {name: got[name][3] for name in expected} == {
        name: f"{value} calls today — alert {condition} 10"
        for name, (_, _, value) in expected.items()
    }


def test_below_a_share_of_pace_in_each_persons_zone(session: Session) -> None:
    cfg = load_org_config(EXAMPLE_CONFIG)
    got = _observe(
        session,
        cfg,
        {"dana": 10, "leo": 20, "aisha": 5, "ben": 16},
        condition="below_pace_pct",
        value=0.6,
        by_time=None,
    )
    # SDR target 60 a day (Ben's own 50); pace = target × share of the day elapsed, the
    # whole calls due; breached under 60 % of pace, cleared from 65 %. The message says the
    # value, what was due, the share, the gap and the threshold.
    # 23.3 due by 12:30 is 23 calls: 10 is 43 %
    assert got["dana"] == (
        True,
        False,
        10,
        "10 calls of 23 due by now (43%), 13 short — alert below 60%",
    )
    assert got["leo"] == (  # 30 by 13:30: 67 %
        False,
        True,
        20,
        "20 calls of 30 due by now (67%), 10 short — alert below 60%",
    )
    # 16.7 due by 11:30 is 16 calls (counted whole, as the scoreboard does): 5 is 31 %
    assert got["aisha"] == (
        True,
        False,
        5,
        "5 calls of 16 due by now (31%), 11 short — alert below 60%",
    )
    assert got["ben"] == (  # 25 by 13:30: 64 %, the band
        False,
        False,
        16,
        "16 calls of 25 due by now (64%), 9 short — alert below 60%",
    )
