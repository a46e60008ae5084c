from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from metrics.config import PersonConfig, TargetSet
from metrics.directory import apply_directory
from metrics.rollups import refresh_rollups
from metrics.scoreboards import person_scoreboard, team_scoreboards
from tests.metrics.builders import BERLIN, CHICAGO, THANKSGIVING, Org, config, local

DAY = dt.date(2026, 11, 17)  # a Tuesday
AS_OF = local(CHICAGO, 2026, 11, 17, 15, 0)  # 15:00 Chicago = 22:00 Berlin


def _work(org: Org, owner: str, zone: object, day: dt.date, calls: int, emails: int) -> None:
    for i in range(calls):
        org.activity(owner, "call", local(zone, day.year, day.month, day.day, 10, i))  # type: ignore[arg-type]
    for i in range(emails):
        org.activity(owner, "email", local(zone, day.year, day.month, day.day, 11, i))  # type: ignore[arg-type]


@pytest.fixture
def org(session: Session) -> Org:
    cfg = config()
    org = Org(session, cfg, DAY)
    _work(org, "dana", CHICAGO, dt.date(2026, 11, 11), calls=7, emails=5)  # misses calls
    for day in (12, 13, 16):
        _work(org, "dana", CHICAGO, dt.date(2026, 11, day), calls=8, emails=5)
    _work(org, "dana", CHICAGO, DAY, calls=4, emails=3)
    _work(org, "lee", BERLIN, DAY, calls=8, emails=4)
    refresh_rollups(session, config=cfg)
    return org


def test_person_scoreboard_targets_pace_status_and_streak(session: Session, org: Org) -> None:
    board = person_scoreboard(
        session, config=org.cfg, person_id=org.person["dana"], day=DAY, as_of=AS_OF
    )
    assert [m.metric for m in board.metrics] == ["calls", "emails"]  # config order, targets only
    calls, emails = board.metrics
    assert calls.target == 8  # team key (sdr) beats role (rep: 10)
    # 15:00 on a 09:00-18:00 day: 6/9 of 8 calls = 5.33 due, graded as the 5 whole calls
    assert calls.expected_now == 5
    assert calls.value == 4 and calls.status == "yellow"  # 4 / 5 = 80%
    assert calls.shortfall == 1
    assert emails.target == 5  # person override beats role (4)
    assert emails.value == 3 and emails.expected_now == 3 and emails.status == "green"  # 3.33
    assert calls.history == (7, 8, 8, 0, 0, 8, 4)  # Nov 11..17, oldest first
    assert board.streak_days == 3  # Nov 12, 13, 16 (weekend skipped); Nov 11 missed
    assert board.timezone == "America/Chicago"
    assert (board.team_rank, board.team_size) == (2, 2)


def test_team_scoreboards_rank_by_share_of_pace(session: Session, org: Org) -> None:
    boards = team_scoreboards(session, config=org.cfg, team_key="sdr", day=DAY, as_of=AS_OF)
    assert [b.name for b in boards] == ["Lee", "Dana"]
    lee = boards[0]
    assert lee.team_rank == 1
    calls, emails = lee.metrics
    assert calls.expected_now == 8  # 22:00 in Berlin: the whole day is due
    assert (calls.status, emails.target, emails.status) == ("green", 4, "green")


def test_past_day_is_due_in_full_and_holiday_has_no_target(session: Session, org: Org) -> None:
    past = person_scoreboard(
        session,
        config=org.cfg,
        person_id=org.person["dana"],
        day=dt.date(2026, 11, 11),
        as_of=AS_OF,
    )
    calls = past.metrics[0]
    assert (calls.value, calls.expected_now, calls.status) == (7, 8, "yellow")  # 87.5%
    holiday = person_scoreboard(
        session,
        config=org.cfg,
        person_id=org.person["dana"],
        day=THANKSGIVING,
        as_of=local(CHICAGO, 2026, 11, 26, 12, 0),
    )
    assert holiday.notes == ("Holiday: Company holiday",)
    assert all(m.target == 0 and m.status == "green" for m in holiday.metrics)


def test_count_pace_is_the_whole_number_due(session: Session, org: Org) -> None:
    """Calls are graded against the whole calls due so far (floor of the pace), and that is
    the pace a board carries: at 14:00 on a 09:00-18:00 day 4.44 of 8 calls are due, so 4
    calls is on pace; at 09:01 nothing whole is due yet."""

    def calls_at(hour: int, minute: int = 0) -> tuple[float | None, str, float]:
        as_of = local(CHICAGO, 2026, 11, 17, hour, minute)
        board = person_scoreboard(
            session, config=org.cfg, person_id=org.person["dana"], day=DAY, as_of=as_of
        )
        calls = board.metrics[0]
        return calls.expected_now, calls.status, calls.shortfall

    assert calls_at(9, 1) == (0, "green", 0)  # 0.01 calls due: none yet
    assert calls_at(14) == (4, "green", 0)  # 4.44 due: 4 whole calls, and Dana has 4
    assert calls_at(16) == (6, "red", 2)  # 6.22 due: 6; 4 of 6 is 67%, 2 more to be on pace


def test_rank_leaves_out_teammates_whose_day_has_not_started(session: Session, org: Org) -> None:
    """At 08:00 in Chicago it is 15:00 in Berlin: Lee has a pace to be measured against, Dana
    has nothing due yet — Lee is #1 of 1, not #1 of 2 ahead of a day that has not begun."""
    early = local(CHICAGO, 2026, 11, 17, 8, 0)
    boards = team_scoreboards(session, config=org.cfg, team_key="sdr", day=DAY, as_of=early)
    ranks = {b.name: (b.team_rank, b.team_size) for b in boards}
    assert ranks == {"Lee": (1, 1), "Dana": (None, 0)}
    assert [b.name for b in boards] == ["Lee", "Dana"]  # the ranked first
    lee = person_scoreboard(
        session, config=org.cfg, person_id=org.person["lee"], day=DAY, as_of=early
    )
    dana = person_scoreboard(
        session, config=org.cfg, person_id=org.person["dana"], day=DAY, as_of=early
    )
    assert (lee.team_rank, lee.team_size) == (1, 1)
    assert (dana.team_rank, dana.team_size) == (None, 0)
    assert all(m.expected_now == 0 for m in dana.metrics)


def test_a_daily_target_of_zero_is_no_target(session: Session) -> None:
    """A target of 0 is not 'always met': the metric is shown without a target or a status,
    out of the verdict, the rank and the streak (no streak walking back through empty days)."""
    zero = {"calls": TargetSet(daily=0), "emails": TargetSet(daily=0)}
    people = tuple(
        p.model_copy(update={"targets": zero}) if p.email == "dana@acme.test" else p
        for p in config().people
    )
    cfg = config(people=people)
    org = Org(session, cfg, DAY)
    _work(org, "dana", CHICAGO, DAY, calls=21, emails=3)
    refresh_rollups(session, config=cfg)
    board = person_scoreboard(
        session, config=cfg, person_id=org.person["dana"], day=DAY, as_of=AS_OF
    )
    assert [(m.metric, m.value) for m in board.metrics] == [("calls", 21), ("emails", 3)]
    assert all(
        (m.target, m.expected_now, m.status, m.shortfall) == (None, None, "none", 0)
        for m in board.metrics
    )
    assert board.with_target == 0 and board.streak_days == 0
    assert board.team_rank is None  # nothing to rank Dana by


def test_a_manager_is_not_held_to_the_team_reps_targets(session: Session) -> None:
    """`sdr` targets are per rep: the team's manager sees their own numbers, ungraded."""
    manager = PersonConfig(email="mo@acme.test", name="Mo", role="manager", team="sdr")
    cfg = config(people=(*config().people, manager))
    org = Org(session, cfg, DAY)
    _work(org, "mo", CHICAGO, DAY, calls=1, emails=0)
    refresh_rollups(session, config=cfg)
    board = person_scoreboard(session, config=cfg, person_id=org.person["mo"], day=DAY, as_of=AS_OF)
    assert board.metrics == ()  # calls: sdr (reps) and rep targets only; emails: rep only


def test_streak_and_targets_follow_the_team_of_each_day(session: Session) -> None:
    """Sam moves from ae (calls: a rep's 10 a day) to sdr (8) on Thu Nov 12 and makes 9
    calls and 4 emails every working day: he missed ae's target every day before, so his
    streak on Tue Nov 17 is Nov 12, 13, 16 and 17 — 4, not every working day since Nov 2
    (12). A board for a day on ae holds him to ae's target."""
    before = config()
    org = Org(session, before, dt.date(2026, 11, 1))
    after = before.model_copy(
        update={
            "people": tuple(
                p.model_copy(update={"team": "sdr"}) if p.email == "sam@acme.test" else p
                for p in before.people
            )
        }
    )
    apply_directory(session, after, today=dt.date(2026, 11, 12))
    new_york = ZoneInfo("America/New_York")
    day = dt.date(2026, 11, 2)
    while day <= DAY:
        if day.weekday() < 5:
            _work(org, "sam", new_york, day, calls=9, emails=4)
        day += dt.timedelta(days=1)
    refresh_rollups(session, config=after)
    sam = org.person["sam"]
    board = person_scoreboard(session, config=after, person_id=sam, day=DAY, as_of=AS_OF)
    assert board.streak_days == 4
    assert [(m.metric, m.target) for m in board.metrics] == [("calls", 8), ("emails", 4)]
    team = {
        b.person_id: b
        for b in team_scoreboards(session, config=after, team_key="sdr", day=DAY, as_of=AS_OF)
    }
    assert team[sam].streak_days == 4
    on_ae = person_scoreboard(
        session, config=after, person_id=sam, day=dt.date(2026, 11, 11), as_of=AS_OF
    )
    calls = on_ae.metrics[0]
    assert (calls.value, calls.target, calls.status) == (9, 10, "yellow")  # 90% of ae's 10
    assert on_ae.streak_days == 0  # Nov 11 missed ae's target
