"""When alert rules are checked: at the `alerts` rhythm's firings in each zone (as retimed on
the switchboard), each rule at most every `every_minutes`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from rhythms.alerts import evaluate_rules
from rhythms.models import AlertEvent, RhythmOverride, RhythmRun
from tests.support.alert_org import LA, NY, RED_STREAK, TEAM_PACE, at, calls, config, seed


def _ticks(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    out, t = [], start
    while t <= end:
        out.append(t)
        t += dt.timedelta(minutes=30)
    return out


def _checked(session: Session, rule: str) -> list[str]:
    rows = session.scalars(
        select(RhythmRun).where(RhythmRun.rhythm == f"alerts:{rule}").order_by(RhythmRun.id)
    )
    return [r.period_key for r in rows]


def test_retimed_alerts_are_checked_only_at_the_new_time_in_each_zone(session: Session) -> None:
    cfg = config(TEAM_PACE, RED_STREAK, alerts_schedule="*/30 9-18 * * mon-fri")
    people = seed(session, cfg)
    for name in people:
        calls(session, people[name], 0)  # everyone far behind: anything checked would fire
    session.add(
        RhythmOverride(
            rhythm="alerts", schedule="0 12 * * mon-fri", changed_by="USAM", changed_at=at(8)
        )
    )
    session.commit()
    checked_at = []
    for tick in _ticks(at(9), at(21, 30)):
        results = evaluate_rules(session, config=cfg, now=tick)
        session.commit()
        if any(not r.skipped for r in results):
            checked_at.append(tick)
        if tick < at(12):
            assert not session.scalars(select(AlertEvent)).all()  # 09:30: nothing fires
    # 12:00 in New York, and 12:00 in Los Angeles (15:00 New York): nothing else
    assert checked_at == [at(12), at(12, 0, LA)]
    assert _checked(session, "team-behind") == [f"2026-11-25T1200:{NY}", f"2026-11-25T1200:{LA}"]
    fired = {e.subject for e in session.scalars(select(AlertEvent)) if e.event == "fire"}
    assert fired == {"team:east", "team:west"} | {
        f"person:{people[n].id}" for n in ("leo", "dana", "aisha", "ben")
    }


def test_each_rule_keeps_its_own_spacing_within_the_schedule(session: Session) -> None:
    rules = [
        {**RED_STREAK, "name": "every-30"},
        {**RED_STREAK, "name": "every-240", "every_minutes": 240},
        {**RED_STREAK, "name": "every-1440", "every_minutes": 1440},
    ]
    cfg = config(*rules, alerts_schedule="*/30 9-18 * * mon-fri")
    seed(session, cfg)
    for tick in _ticks(at(8), at(19)):
        evaluate_rules(session, config=cfg, now=tick)
        session.commit()

    def new_york(rule: str) -> list[str]:
        return [k.split("T")[1][:4] for k in _checked(session, rule) if k.endswith(NY)]

    assert new_york("every-30") == [f"{h:02d}{m:02d}" for h in range(9, 19) for m in (0, 30)]
    assert new_york("every-240") == ["0900", "1300", "1700"]
    assert new_york("every-1440") == ["0900"]  # a daily rule: at the day's first firing
