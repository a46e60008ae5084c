"""Alerts across zones, on hand-computed numbers: a team's pace is its reps' paces each in
their own zone; `turns_red` waits for a fifth of the day; escalation says why, counting
red days in the subject's own zone."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from rhythms.alert_rules import observe, subjects_for
from rhythms.alerts import evaluate_rules
from rhythms.models import Delivery
from tests.support.alert_org import LA, RED_STREAK, TEAM_PACE, WED, at, calls, config, seed


def _seen(session: Session, cfg, rule: dict, now: dt.datetime):  # type: ignore[no-untyped-def]
    parsed = next(r for r in cfg.alerts if r.name == rule["name"])
    subjects = subjects_for(session, cfg, parsed)
    return {
        s.subject.key: (s.obs.breached, s.obs.cleared, s.detail)
        for s in observe(session, config=cfg, rule=parsed, subjects=subjects, now=now)
    }


def _messages(session: Session) -> list[Delivery]:
    return list(session.scalars(select(Delivery).where(Delivery.kind == "message")))


def test_a_team_in_los_angeles_owes_nothing_at_0930_new_york(session: Session) -> None:
    cfg = config(TEAM_PACE)
    people = seed(session, cfg)
    for name in ("leo", "dana"):
        calls(session, people[name], 2)  # 09:30 NY: 50 × 0.5/9 = 2.8 → 2 due each: on pace
    nine_thirty = at(9, 30)  # 06:30 in Los Angeles: SDR West's day has not started
    assert "team:west" not in _seen(session, cfg, TEAM_PACE, nine_thirty)  # not its hours
    around_the_clock = {**TEAM_PACE, "working_hours_only": False}
    seen = _seen(session, config(around_the_clock), around_the_clock, nine_thirty)
    assert seen["team:west"] == (False, True, "nothing due yet")  # checked: nothing is due
    evaluate_rules(session, config=cfg, now=nine_thirty)
    session.commit()
    assert _messages(session) == []  # before: "🚨 SDR West team: Calls 0 (60% of pace (3))"


def test_team_and_org_pace_add_each_reps_pace_in_their_zone(session: Session) -> None:
    rules = (TEAM_PACE, {**TEAM_PACE, "name": "org-behind", "scope": {"level": "org"}})
    cfg = config(*rules)
    people = seed(session, cfg)
    for name, n in (("leo", 15), ("dana", 15), ("aisha", 8), ("ben", 5)):
        calls(session, people[name], n)
    # 13:30 New York: 4.5 h of 9 → 25 calls due for each New York rep; 10:30 Los Angeles:
    # 1.5 h of 9 → 8.3, whole 8 for each Los Angeles rep
    now = at(13, 30)
    teams = _seen(session, cfg, TEAM_PACE, now)
    # 30 of 50 = 60 %: not below 60 %, not yet 65 % (the hysteresis band)
    assert teams["team:east"] == (
        False,
        False,
        "30 calls of 50 due by now (60%), 20 short — alert below 60%",
    )
    assert teams["team:west"] == (
        False,
        True,
        "13 calls of 16 due by now (81%), 3 short — alert below 60%",
    )
    # the org: 25 + 25 + 8 + 8 = 66 due (not 4 × 25 = 100 in the org zone): 43 is 65 %
    assert _seen(session, cfg, rules[1], now)["org"] == (
        False,
        True,
        "43 calls of 66 due by now (65%), 23 short — alert below 60%",
    )


def test_turns_red_waits_for_a_fifth_of_the_day(session: Session) -> None:
    cfg = config(RED_STREAK)
    people = seed(session, cfg)
    calls(session, people["leo"], 1)
    calls(session, people["dana"], 30)
    # 09:30: 2 calls due (50 × 0.5/9 = 2.8); one call would decide the colour
    early = _seen(session, cfg, RED_STREAK, at(9, 30))
    assert early[f"person:{people['leo'].id}"] == (False, False, "too early in the day to judge")
    evaluate_rules(session, config=cfg, now=at(9, 30))
    session.commit()
    assert _messages(session) == []
    # 10:30 is 1.5 h of 9: still too early; 11:30 is 2.5 h of 9 (past a fifth): 13.9 → 13
    # due; 5 is 38 %, red below 80 %
    assert _seen(session, cfg, RED_STREAK, at(10, 30))[f"person:{people['leo'].id}"][:2] == (
        False,
        False,
    )
    calls(session, people["leo"], 5)
    seen = _seen(session, cfg, RED_STREAK, at(11, 30))
    assert seen[f"person:{people['leo'].id}"] == (
        True,
        False,
        "5 calls of 13 due by now (38%), 8 short — red below 80% of pace",
    )


def _red_days(session: Session, person, days: list[dt.date]) -> None:  # type: ignore[no-untyped-def]
    for day in days:
        calls(session, person, 10, day)  # 10 of 50: red


# working days before Wed 25 Nov 2026 (no holidays in this org), latest first
BEFORE = [WED - dt.timedelta(days=d) for d in (1, 2, 5, 6, 7, 8, 9, 12)]


def test_the_cro_is_told_why_and_for_how_many_days(session: Session) -> None:
    cfg = config(RED_STREAK)
    people = seed(session, cfg)
    leo = people["leo"]
    _red_days(session, leo, BEFORE[:7])  # Tue 24 back to Mon 16: 7 working days red
    calls(session, leo, 50, BEFORE[7])  # Fri 13 was green: the streak is 7
    calls(session, leo, 5)
    calls(session, people["dana"], 30)
    evaluate_rules(session, config=cfg, now=at(11, 30))
    session.commit()
    by_recipient = {d.recipient: d for d in _messages(session)}
    assert sorted(by_recipient) == ["ULEO", "UMARIA", "UOLIVIA"]  # 7 ≥ 2 × 3: the CRO too
    line = "• *Leo Martin*: 5 calls of 13 due by now (38%), 8 short — red below 80% of pace"
    streak = " · red 7 working days in a row before today"
    why = (
        "*Why you get this:* Leo Martin ended the last 7 working days red. This rule brings "
        "in the manager after 3 red days in a row and the CRO after 6: you get it as the CRO."
    )
    cro = json.dumps(by_recipient["UOLIVIA"].payload["blocks"], ensure_ascii=False)
    assert json.dumps(line + streak, ensure_ascii=False)[1:-1] in cro
    assert json.dumps(why, ensure_ascii=False)[1:-1] in cro
    manager = json.dumps(by_recipient["UMARIA"].payload["blocks"], ensure_ascii=False)
    assert "Why you get this" not in manager  # a configured route reaches her
    assert "*Next step:* a short check-in today" in manager


def test_red_days_are_counted_before_the_subjects_own_today(session: Session) -> None:
    """17:30 in Los Angeles is already Thursday in UTC: Wednesday, Ben's today, is not one
    of his red days yet."""
    cfg = config(RED_STREAK)
    people = seed(session, cfg)
    ben = people["ben"]
    _red_days(session, ben, BEFORE[:6])  # Tue 24 back to Tue 17: 6 working days red
    calls(session, ben, 50, BEFORE[6])
    calls(session, ben, 10)  # and red today: 10 of 47 due at 17:30
    for name in ("aisha", "leo", "dana"):
        calls(session, people[name], 50)
    evaluate_rules(session, config=cfg, now=at(17, 30, LA))
    session.commit()
    cro = next(d for d in _messages(session) if d.recipient == "UOLIVIA")
    text = json.dumps(cro.payload["blocks"], ensure_ascii=False)
    assert "Ben Carter ended the last 6 working days red" in text
