from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from metrics.rollups import refresh_rollups
from metrics.scoreboards import person_scoreboard, team_scoreboards
from tests.metrics.builders import BERLIN, CHICAGO, THANKSGIVING, Org, config, local

DAY = dt.date(2026, 11, 17)  # a Tuesday
AS_OF = local(CHICAGO, 2026, 11, 17, 14, 0)  # 14:00 Chicago = 21:00 Berlin


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
    assert calls.expected_now == pytest.approx(8 * 5 / 9)  # 14:00 on a 09:00-18:00 day
    assert calls.value == 4 and calls.status == "yellow"  # 4 / 4.44 = 90%
    assert calls.shortfall == pytest.approx(8 * 5 / 9 - 4)
    assert emails.target == 5  # person override beats role (4)
    assert emails.value == 3 and emails.status == "green"  # 3 / 2.78
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
    assert calls.expected_now == 8  # 21:00 in Berlin: the whole day is due
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
