"""What a `/metric … chart` draws (`rhythms.metric_chart`): the message's own numbers per day,
each day's target, the period in the title, a window for one day, and why a ratio or
pipeline coverage has no chart."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.charts import renderer
from metrics.directory import apply_directory
from metrics.lookup import catalog_for
from metrics.models import MetricDaily, Person
from rhythms.config import OrgConfig, parse_org_config
from rhythms.metric_answer import answer, resolve_subject
from rhythms.metric_chart import MetricChart, NoChart, chart_reply, metric_chart
from rhythms.metric_query import config_team_words, parse_query
from tests.support.rhythms import org_data

NOW = dt.datetime(2026, 11, 25, 22, 45, tzinfo=dt.UTC)  # Wed 17:45 in New York
NOV = dt.date(2026, 11, 1)
REPS = ("dana", "leo", "aisha", "chloe")  # SDR, 60 calls a day each


def _config() -> OrgConfig:
    data = org_data()
    data["currency"] = {"reporting": "EUR"}
    data["metrics"].append({"name": "pipeline_created", "targets": {"sdr": {"monthly": 21000}}})
    return parse_org_config(data)


def _people(session: Session, cfg: OrgConfig) -> dict[str, Person]:
    apply_directory(session, cfg, today=dt.date(2026, 1, 1))
    session.flush()
    return {p.email.split("@")[0]: p for p in session.scalars(select(Person))}


def _put(session: Session, person: Person, metric: str, day: dt.date, value: float) -> None:
    session.add(
        MetricDaily(person_id=person.id, metric=metric, day=day, value=value, team_key="sdr")
    )


def _chart(session: Session, cfg: OrgConfig, viewer: Person, text: str) -> Any:
    query = parse_query(text, catalog_for(cfg), config_team_words(cfg))
    subject = resolve_subject(session, config=cfg, viewer=viewer, target=query.target)
    result = answer(session, config=cfg, query=query, subject=subject, now=NOW)
    chart = metric_chart(session, config=cfg, query=query, subject=subject, result=result, now=NOW)
    return result, chart


def test_the_chart_draws_the_messages_numbers_day_by_day(session: Session) -> None:
    """This month's team pipeline: the same rows as the message (the manager's deal on the
    team too), the days Nov 1–25, euros, and each day's target: 4 reps × 21,000 a month ÷
    21 weekdays = 4,000 a working day, 0 on a weekend and on Veterans Day (Nov 11)."""
    cfg = _config()
    people = _people(session, cfg)
    _put(session, people["dana"], "pipeline_created", dt.date(2026, 11, 2), 1000)
    _put(session, people["dana"], "pipeline_created", dt.date(2026, 11, 10), 2500)
    _put(session, people["leo"], "pipeline_created", dt.date(2026, 11, 24), 4000)
    _put(session, people["maria"], "pipeline_created", dt.date(2026, 11, 20), 500)
    _put(session, people["leo"], "pipeline_created", dt.date(2026, 10, 30), 9000)  # October
    session.flush()
    result, chart = _chart(session, cfg, people["maria"], "pipeline sdr this month chart")
    assert isinstance(chart, MetricChart)
    assert result.value == 8000 and sum(chart.values) == 8000
    assert chart.days == tuple(NOV + dt.timedelta(days=i) for i in range(25))
    assert chart.values[1] == 1000 and chart.values[9] == 2500 and chart.values[19] == 500
    assert chart.currency == "EUR" and chart.unit == "currency"
    assert chart.title == "Pipeline created · SDR"
    assert chart.period == "this month · Nov 1–25"
    assert chart.targets is not None
    assert chart.targets[1] == 4000  # Mon Nov 2
    assert chart.targets[0] == 0 and chart.targets[7] == 0  # Sundays
    assert chart.targets[10] == 0  # Veterans Day
    # 17 working days drawn (Nov 2–6, 9–10, 12–13, 16–20, 23–25)
    assert sum(t or 0 for t in chart.targets) == 17 * 4000
    assert chart.png().startswith(b"\x89PNG")  # drawn with its target, period and currency
    slot = renderer()._slots["trend"]
    assert [a.get_text() for a in slot.dynamic if hasattr(a, "get_text")] == ["- - target €4.0k"]
    assert slot.subtitle.get_text() == "this month · Nov 1–25"
    assert [t.get_text() for t in slot.ax.get_yticklabels()][-1].startswith("€")


def test_one_day_is_drawn_over_the_last_ten_working_days(session: Session) -> None:
    """`today` was one dot: now the ten working days up to today (Nov 12–25, Veterans Day
    and two weekends between), its last point the message's number."""
    cfg = _config()
    people = _people(session, cfg)
    day = dt.date(2026, 11, 9)
    while day <= NOW.date():
        if day.weekday() < 5:
            for name in REPS:
                _put(session, people[name], "calls", day, 10)
        day += dt.timedelta(days=1)
    _put(session, people["maria"], "calls", NOW.date(), 5)  # the manager's, on the team
    session.flush()
    result, chart = _chart(session, cfg, people["maria"], "calls sdr today chart")
    assert isinstance(chart, MetricChart)
    assert result.value == 45 and chart.values[-1] == 45
    assert chart.days[0] == dt.date(2026, 11, 12) and chart.days[-1] == NOW.date()
    assert chart.values == (40, 40, 0, 0, 40, 40, 40, 40, 40, 0, 0, 40, 40, 45)
    assert chart.targets == (240, 240, 0, 0, 240, 240, 240, 240, 240, 0, 0, 240, 240, 240)
    assert chart.period == "last 10 working days to today · Nov 12–25"
    _, yesterday = _chart(session, cfg, people["maria"], "calls sdr yesterday chart")
    assert isinstance(yesterday, MetricChart)
    # back from Tue Nov 24: ten working days reach Tue Nov 10 (Veterans Day is not one)
    assert yesterday.period == "last 10 working days to Tue Nov 24 · Nov 10–24"


def test_a_persons_chart_has_their_own_target(session: Session) -> None:
    cfg = _config()
    people = _people(session, cfg)
    _put(session, people["dana"], "calls", dt.date(2026, 11, 23), 55)
    _put(session, people["dana"], "calls", dt.date(2026, 11, 24), 61)
    session.flush()
    result, chart = _chart(session, cfg, people["dana"], "calls this week chart")
    assert isinstance(chart, MetricChart)
    assert chart.values == (55, 61, 0) and result.value == 116
    assert chart.targets == (60, 60, 60)
    assert chart.title == "Calls · Dana Ruiz" and chart.period == "this week · Nov 23–25"


def test_ratios_and_coverage_say_why_there_is_no_chart(session: Session) -> None:
    cfg = _config()
    people = _people(session, cfg)
    _, ratio = _chart(session, cfg, people["maria"], "win_rate sdr last 30d chart")
    assert isinstance(ratio, NoChart)
    assert ratio.reason.startswith("No chart: win rate is a ratio")
    assert "`deals_won` and `deals_lost`" in ratio.reason
    _, coverage = _chart(session, cfg, people["maria"], "coverage sdr this month chart")
    assert isinstance(coverage, NoChart) and "snapshot" in coverage.reason
    query = parse_query("win_rate sdr last 30d chart", catalog_for(cfg), config_team_words(cfg))
    subject = resolve_subject(session, config=cfg, viewer=people["maria"], target=query.target)
    result = answer(session, config=cfg, query=query, subject=subject, now=NOW)
    blocks, upload = chart_reply(
        session,
        config=cfg,
        query=query,
        subject=subject,
        result=result,
        now=NOW,
        body="Win rate",
        blocks=[],
    )
    assert upload is None
    assert blocks[-1]["type"] == "context" and "No chart" in blocks[-1]["elements"][0]["text"]
