"""The drop-vs-trailing-average condition ("meetings-drop" in the example config), on
hand-computed numbers: the baseline averages the team's working days only, counts the team
as it was each day (as today's team value is counted), and scales by the working day elapsed.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.directory import apply_directory
from metrics.models import MetricDaily, Person
from metrics.scoreboards import work_calendar
from rhythms.alert_rules import Seen, observe, subjects_for
from rhythms.config import AlertRuleConfig, OrgConfig, load_org_config
from tests.conftest import EXAMPLE_CONFIG

MONDAY = dt.date(2026, 11, 23)
AT = dt.datetime(2026, 11, 23, 18, 30, tzinfo=dt.UTC)  # 13:30 New York: half the 9-18 day
WORKING = [dt.date(2026, 11, d) for d in (9, 10, 12, 13, 16, 17, 18, 19, 20)]
VETERANS_DAY = dt.date(2026, 11, 11)  # a US holiday in the example calendar


def _rule(cfg: OrgConfig) -> AlertRuleConfig:
    rule = next(r for r in cfg.alerts if r.name == "meetings-drop")
    assert (rule.condition, rule.value, rule.trailing_days) == ("drop_vs_trailing_pct", 0.3, 14)
    return rule


def _meetings(session: Session, person: Person, day: dt.date, n: float, team: str) -> None:
    session.add(
        MetricDaily(person_id=person.id, metric="meetings_booked", day=day, value=n, team_key=team)
    )


def _seen(session: Session, cfg: OrgConfig) -> dict[str, Seen]:
    rule = _rule(cfg)
    subjects = subjects_for(session, cfg, rule)
    return {
        s.subject.key: s for s in observe(session, config=cfg, rule=rule, subjects=subjects, now=AT)
    }


def test_team_baseline_is_the_team_of_each_working_day(session: Session) -> None:
    cfg = load_org_config(EXAMPLE_CONFIG)
    apply_directory(session, cfg, today=MONDAY)
    people = {p.email.split(".")[0]: p for p in session.scalars(select(Person))}
    dana, leo = people["dana"], people["leo"]  # SDRs today
    assert dana.team_key == leo.team_key == "sdr"
    ae_rep = next(p for p in people.values() if p.team_key == "ae" and p.role == "rep")
    work = work_calendar(cfg)
    assert not work.is_working_day(VETERANS_DAY)
    assert [d for d in WORKING if work.is_working_day(d)] == WORKING
    for day in WORKING:
        _meetings(session, dana, day, 4, "sdr")
    _meetings(session, dana, VETERANS_DAY, 10, "sdr")  # holidays are left out
    _meetings(session, dana, dt.date(2026, 11, 14), 10, "sdr")  # so are weekends
    _meetings(session, ae_rep, dt.date(2026, 11, 19), 2, "sdr")  # on the SDR team that day
    _meetings(session, leo, dt.date(2026, 11, 18), 100, "ae")  # on the AE team that day
    _meetings(session, dana, MONDAY, 1, "sdr")
    _meetings(session, ae_rep, MONDAY, 4, "ae")
    session.commit()

    seen = _seen(session, cfg)
    sdr = seen["team:sdr"]
    # (9 × 4 + 2) / 9 working days = 4.22 a day; half the day gone: 2.11 expected by now;
    # 1 < 2.11 × (1 - 0.3) = 1.48 → breached
    assert sdr.detail == (
        "1 meetings booked so far vs 2.1 by now on an average working day (last 14 days)"
        " — alert at 30% below"
    )
    assert sdr.obs.breached and not sdr.obs.cleared and sdr.obs.value == 1
    assert sdr.trend == (4, 4, 4, 4, 4, 6, 4)  # the last 7 working days, 12 Nov to 20 Nov

    ae = seen["team:ae"]
    # 100 / 9 = 11.1 a day, 5.56 by now; 5.56 × 0.7 = 3.89 ≤ 4 < 5.56 × (0.7 + 0.05) = 4.17:
    # inside the hysteresis band, neither breached nor cleared
    assert ae.detail.startswith("4 meetings booked so far vs 5.6 by now")
    assert not ae.obs.breached and not ae.obs.cleared and ae.obs.value == 4

    cs = seen["team:cs"]  # no history at all: nothing to compare with, never fires
    assert cs.detail == "no baseline yet" and not cs.obs.breached and cs.obs.cleared
