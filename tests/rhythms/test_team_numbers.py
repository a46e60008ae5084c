"""A team's numbers mean one thing everywhere: its value counts everyone on the team that day
(reps and manager, `metric_daily.team_key`), its target its reps' for the days each was on
it, its pace each rep's in their own zone; a series adds up to its value; pipeline coverage
is open pipeline now over what is left of the whole current period's bookings target.

The example org in August 2026 (no public holiday): SDRs in Chicago, New York (Leo, Ben) and
Denver, AEs in Los Angeles, Chicago and New York; Maria (SDR manager) and Tom (AE manager)
make calls and deals of their own; Emma moves from SDR to AE on Monday Aug 17."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from metrics.directory import apply_directory
from metrics.lookup import Scope, metric_value
from metrics.models import MetricDaily, Person
from rhythms.config import load_org_config
from rhythms.control_tower import control_tower
from rhythms.control_tower_message import tower_message
from rhythms.home_view import home_view
from rhythms.metric_answer import Answer, answer, answer_blocks, resolve_subject
from rhythms.metric_query import MetricQuery, QueryError, Target
from tests.conftest import EXAMPLE_CONFIG
from tests.metrics.builders import Org

MOVED = load_org_config(EXAMPLE_CONFIG)  # Emma on the AE team
BEFORE = MOVED.model_copy(
    update={
        "people": tuple(
            p.model_copy(update={"team": "sdr"}) if p.email.startswith("emma.") else p
            for p in MOVED.people
        )
    }
)
MOVE_DAY = dt.date(2026, 8, 17)  # Monday
# Wed Aug 19 16:00 New York = 15:00 Chicago = 14:00 Denver = 13:00 Los Angeles (9-18 days)
NOW = dt.datetime(2026, 8, 19, 20, 0, tzinfo=dt.UTC)
CALLS = {  # day -> (person, value, team of that day)
    13: [("dana", 50, "sdr"), ("emma", 30, "sdr"), ("maria", 10, "sdr"), ("chloe", 12, "ae"),
         ("tom", 5, "ae")],
    14: [("dana", 45, "sdr"), ("emma", 25, "sdr"), ("chloe", 10, "ae")],
    17: [("dana", 55, "sdr"), ("leo", 40, "sdr"), ("maria", 10, "sdr"), ("emma", 14, "ae"),
         ("chloe", 11, "ae"), ("tom", 4, "ae")],
    18: [("dana", 52, "sdr"), ("aisha", 41, "sdr"), ("emma", 13, "ae")],
    19: [("dana", 40, "sdr"), ("leo", 40, "sdr"), ("aisha", 30, "sdr"), ("ben", 35, "sdr"),
         ("maria", 20, "sdr"), ("emma", 9, "ae"), ("chloe", 6, "ae"), ("diego", 10, "ae")],
}  # fmt: skip


def _org(session: Session) -> Org:
    apply_directory(session, BEFORE, today=dt.date(2026, 1, 1))
    org = Org(session, MOVED, MOVE_DAY)  # Emma to AE from Monday; CRM owners for everyone
    ids = {name.split(".")[0]: pid for name, pid in org.person.items()}
    rows = [
        (day, who, value, team, "calls") for day, got in CALLS.items() for who, value, team in got
    ]
    rows += [(5, "diego", 100000, "ae", "bookings"), (10, "tom", 40000, "ae", "bookings")]
    rows += [(12, "emma", 20000, "sdr", "bookings")]  # hers, but SDR's: before the move
    for day, who, value, team, metric in rows:
        session.add(
            MetricDaily(
                person_id=ids[who],
                metric=metric,
                day=dt.date(2026, 8, day),
                value=value,
                team_key=team,
            )
        )
    created = dt.datetime(2026, 7, 20, 15, tzinfo=dt.UTC)
    for owner, amount in (("chloe.wu", 200000), ("tom.becker", 50000), ("emma.schmidt", 30000)):
        org.deal(owner, created, amount=amount)  # open
    session.commit()
    return org


def _answer(session: Session, metric: str, target: Target, period: str) -> Answer:
    subject = resolve_subject(session, config=MOVED, viewer=None, target=target, trusted=True)
    query = MetricQuery(metric, target, period, True, False, False)
    return answer(session, config=MOVED, query=query, subject=subject, now=NOW)


def test_a_team_series_adds_up_to_its_value_manager_and_movers_included(
    session: Session,
) -> None:
    _org(session)
    sdr = _answer(session, "calls", Target("team", "sdr"), "this week")
    # Mon: Dana 55 + Leo 40 + Maria 10; Tue: Dana 52 + Aisha 41; Wed: 40+40+30+35 + Maria 20
    assert sdr.daily == (105, 93, 165)
    assert sdr.value == 363 == sum(sdr.daily)
    # Aug 13-19: Emma's rows count for SDR before Monday and for AE from Monday, Tom's too
    ae = _answer(session, "calls", Target("team", "ae"), "2026-08-13..2026-08-19")
    assert ae.daily == (17, 10, 0, 0, 29, 13, 25)
    assert ae.value == 94 == sum(ae.daily)
    org = _answer(session, "calls", Target("org"), "this week")
    assert org.daily == (105 + 29, 93 + 13, 165 + 25)  # every row: managers included
    assert org.value == sum(org.daily)


def test_team_and_org_pace_is_each_reps_pace_in_their_own_zone(session: Session) -> None:
    _org(session)
    sdr = _answer(session, "calls", Target("team", "sdr"), "today")
    assert sdr.target == 60 * 3 + 50  # Ben's own daily 50; Maria has no target
    # Dana (Chicago) 6/9 of 60 = 40, Leo (New York) 7/9 of 60 = 46.7 → 46, Aisha (Denver)
    # 5/9 of 60 = 33.3 → 33, Ben (New York) 7/9 of 50 = 38.9 → 38 — not 7/9 of 230 = 178
    assert sdr.expected == 40 + 46 + 33 + 38
    assert (sdr.value, sdr.status) == (165, "green")  # 165 of 157 due (was yellow vs 178)
    org = _answer(session, "calls", Target("org"), "today")
    assert org.target == 230 + 15 * 3 + 10 * 2
    # AEs 15: Chloe (LA) 4/9 → 6, Diego (Chicago) 6/9 → 10, Emma (NY) 7/9 → 11;
    # CS 10: Farah (LA) 4/9 → 4, George (NY) 7/9 → 7
    assert org.expected == 157 + 6 + 10 + 11 + 4 + 7
    assert org.value == 165 + 25


# AE's August bookings target: Chloe's and Diego's 120k and Emma's 11 of 21 working days
AE_AUGUST = 120000 * 2 + 120000 * 11 / 21
AE_COVERAGE = (200000 + 50000 + 30000) / (AE_AUGUST - 140000)  # open now ÷ still to book


def test_coverage_is_open_pipeline_now_over_the_whole_periods_target_left(
    session: Session,
) -> None:
    _org(session)
    bookings = _answer(session, "bookings", Target("team", "ae"), "this month")
    assert bookings.value == 140000  # Diego's and Tom's: the team's rows
    assert bookings.target == pytest.approx(AE_AUGUST)
    coverage = _answer(session, "pipeline_coverage", Target("team", "ae"), "this month")
    assert coverage.value == pytest.approx(AE_COVERAGE)  # 1.72: the month, not Aug 1-19
    assert (coverage.start, coverage.end) == (dt.date(2026, 8, 1), dt.date(2026, 8, 31))
    text, blocks = answer_blocks(coverage, currency="USD", now=NOW)
    assert text.endswith(": 1.7×") and "open pipeline now" in str(blocks)
    looked_up = metric_value(
        session,
        config=MOVED,
        metric="pipeline_coverage",
        scope=Scope.team("ae"),
        start=dt.date(2026, 8, 1),
        end=dt.date(2026, 8, 31),
    )
    assert looked_up.denominator == pytest.approx(AE_AUGUST - 140000)  # Emma: her days only
    for past in ("last month", "2026-08-18"):
        with pytest.raises(QueryError, match="only known for now"):
            _answer(session, "pipeline_coverage", Target("team", "ae"), past)


def test_the_tower_counts_a_team_as_metric_does(session: Session) -> None:
    _org(session)
    morning = dt.datetime(2026, 8, 19, 12, 30, tzinfo=dt.UTC)  # Wed 08:30 New York
    tower = control_tower(session, config=MOVED, day=dt.date(2026, 8, 18), now=morning)
    ae = next(t for t in tower.teams if t.team_key == "ae")
    assert ae.bookings_target == pytest.approx(AE_AUGUST)  # not 360k: Emma from Aug 17
    assert ae.coverage == pytest.approx(AE_COVERAGE)
    assert "*Coverage*\\n1.7×" in str(tower_message(tower)["blocks"])
    # Friday Aug 14, told on Monday: Emma was an SDR that day, her target is SDR's
    monday = dt.datetime(2026, 8, 17, 12, 30, tzinfo=dt.UTC)
    friday = control_tower(session, config=MOVED, day=dt.date(2026, 8, 14), now=monday)
    calls = {t.team_key: dict((i[0], i[2]) for i in t.inputs)["Calls"] for t in friday.teams[:2]}
    assert calls == {"sdr": 60 * 4 + 50, "ae": 15 * 2}
    # a day still under way: each rep's pace in their own zone, as /metric
    today = control_tower(session, config=MOVED, day=dt.date(2026, 8, 19), now=NOW)
    sdr = next(t for t in today.teams if t.team_key == "sdr")
    assert dict((i[0], i[1:3]) for i in sdr.inputs)["Calls"] == (165, 157)


def test_a_coverage_of_another_month_than_the_towers_day_says_which(session: Session) -> None:
    """Monday Aug 3 tells Friday Jul 31: bookings are July's, coverage is of now, August."""
    _org(session)
    monday = dt.datetime(2026, 8, 3, 12, 30, tzinfo=dt.UTC)  # 08:30 New York
    tower = control_tower(session, config=MOVED, day=dt.date(2026, 7, 31), now=monday)
    ae = next(t for t in tower.teams if t.team_key == "ae")
    assert ae.bookings_mtd == 0 and ae.coverage == pytest.approx(AE_COVERAGE)
    text = str(tower_message(tower)["blocks"])
    assert "*Bookings MTD*\\n$0 of $" in text and "*Coverage (Aug)*\\n1.7×" in text


def test_a_managers_home_week_is_the_teams_and_names_their_own(session: Session) -> None:
    org = _org(session)
    person = session.get(Person, org.person["maria.gonzalez"])
    assert person is not None
    person.slack_user_id = "UMARIA"
    session.commit()
    view = home_view(session, config=MOVED, slack_user_id="UMARIA", now=NOW)
    week = next(b["text"]["text"] for b in view["blocks"] if "team's week" in str(b))
    # 363 as `/metric calls sdr this week`, Maria's 30 of them; the week's target is the four
    # SDRs' 300 (Emma left on Monday); due by now 160 + 166 + 153 + 166, 363 of 645: red
    assert "🔴 *Calls* 363 of 1,200 (incl. your own 30)" in week
    sdr = _answer(session, "calls", Target("team", "sdr"), "this week")
    assert (sdr.value, sdr.target, sdr.expected) == (363, 1200, 160 + 166 + 153 + 166)
