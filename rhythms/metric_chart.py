"""The chart of a `/metric … chart` answer: the message's own numbers, one point a day.

`chart_reply` gives the reply's blocks and the chart upload (None: no chart, and the blocks
end with a line saying why). `metric_chart` is the part that decides what is drawn:

- the points are the answer's `daily` series — the rows its value sums (a team's: everyone
  on it that day) — so they add up to the value in the message, money in the reporting
  currency;
- the dashed target is per day, from the target functions the message's target comes from
  (`team_target` over who was on the team that day; `group_target` for a person or the org):
  a working day's share, 0 on a day off;
- one day (`today`, `yesterday`, a date) is one dot: it is drawn over the last
  `WINDOW_WORKING_DAYS` working days up to that day, the answer asked again for those days,
  so its last point is the message's number; the title says so;
- a ratio (win rate, average deal size, cycle time, conversions) is not drawn day by day — a
  day holds a handful of deals —, nor pipeline coverage, a snapshot whose past is not kept:
  the reply says so and names the counts to chart instead.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.catalog import PIPELINE_COVERAGE, MetricDef
from metrics.charts import renderer
from metrics.directory import team_days
from metrics.lookup import catalog_for
from metrics.models import Person
from metrics.scoreboards import work_calendar
from metrics.targets import TargetMemo, group_target_memo, team_target
from rhythms import blocks as bk
from rhythms.config import OrgConfig
from rhythms.metric_answer import Answer, Subject, answer
from rhythms.metric_query import MetricQuery

WINDOW_WORKING_DAYS = 10  # what a one-day question is drawn over: two working weeks
SERIES_MAX_DAYS = 61  # the longest period the answer keeps a daily series of


@dataclass(frozen=True)
class MetricChart:
    """What a `/metric` chart draws: `values[i]` and `targets[i]` are for `days[i]`."""

    title: str  # "Calls · SDR East"
    period: str  # "this week · Nov 23–25": the chart's second line
    days: tuple[dt.date, ...]
    values: tuple[float, ...]
    targets: tuple[float | None, ...] | None  # None: nobody in scope has a target
    unit: str
    currency: str

    def png(self) -> bytes:
        return renderer().trend(
            self.title,
            self.days,
            self.values,
            target=self.targets,
            unit=self.unit,
            currency=self.currency,
            subtitle=self.period,
        )


@dataclass(frozen=True)
class NoChart:
    reason: str  # a sentence for the person who asked


def chart_reply(
    session: Session,
    *,
    config: OrgConfig,
    query: MetricQuery,
    subject: Subject,
    result: Answer,
    now: dt.datetime,
    body: str,
    blocks: Sequence[bk.Block],
) -> tuple[list[bk.Block], dict[str, Any] | None]:
    """The reply's blocks and the upload payload (filename, title, PNG) of `result`'s
    chart; without a chart, (the blocks and a line saying why, None)."""
    chart = metric_chart(
        session, config=config, query=query, subject=subject, result=result, now=now
    )
    if isinstance(chart, NoChart):
        return [*blocks, bk.context(chart.reason)], None
    upload = {
        "filename": f"{result.metric}.png",
        "title": body[:200],
        "content_base64": base64.b64encode(chart.png()).decode(),
    }
    return list(blocks), upload


def metric_chart(
    session: Session,
    *,
    config: OrgConfig,
    query: MetricQuery,
    subject: Subject,
    result: Answer,
    now: dt.datetime,
) -> MetricChart | NoChart:
    """What `result`'s chart draws, or why there is none (see the module's docstring)."""
    catalog = catalog_for(config)
    defn = catalog.get(result.metric)
    if defn.special == PIPELINE_COVERAGE:
        return NoChart(
            "No chart: pipeline coverage is a snapshot — open pipeline now ÷ what is left of "
            "the bookings target — and its past values are not kept, so there is no line to "
            "draw."
        )
    if not defn.additive:
        parts = [
            f"`{name}`"
            for name in dict.fromkeys(defn.numerator + defn.denominator)
            if name in catalog.metrics and catalog.metrics[name].additive
        ]
        instead = f" Chart what it is made of instead: {bk.human_join(parts)}." if parts else ""
        return NoChart(
            f"No chart: {result.label.lower()} is a ratio worked out over the whole period; "
            f"day by day it would be a ratio of a handful of records, which jumps about "
            f"without meaning much.{instead}"
        )
    today = now.astimezone(ZoneInfo(result.timezone)).date()
    period = result.period_label
    if result.start == result.end:  # one dot: draw the working days up to it
        first = _window_start(config, result.end)
        window = dataclasses.replace(query, period=f"{first}..{result.end}")
        result = answer(
            session, config=config, query=window, subject=subject, now=now, fresh=(None, True)
        )
        when = "today" if result.end == today else _day(result.end)
        period = f"last {WINDOW_WORKING_DAYS} working days to {when}"
    if not result.daily:
        return NoChart(_why_no_series(result, subject, today))
    days = tuple(result.start + dt.timedelta(days=i) for i in range(len(result.daily)))
    if result.start != result.end:  # the days drawn (to date: up to today)
        span = _span(days[0], days[-1], today.year)
        period = span if ".." in period else f"{period} · {span}"
    return MetricChart(
        title=f"{result.label} · {result.subject}",
        period=period,
        days=days,
        values=tuple(result.daily),
        targets=_daily_targets(session, config, defn, subject, days),
        unit=result.unit,
        currency=config.currency.reporting,
    )


def _daily_targets(
    session: Session,
    config: OrgConfig,
    defn: MetricDef,
    subject: Subject,
    days: Sequence[dt.date],
) -> tuple[float | None, ...] | None:
    """Each day's target, as the answer's target is computed for its days: a team's from
    who was on it that day (`team_target`), a person's or the org's from its members
    (`group_target`). None when nobody has one."""
    work = work_calendar(config)
    out: list[float | None] = []
    if subject.scope.kind == "team":
        key = str(subject.scope.key)
        runs = team_days(session, key, days[0], days[-1])
        ids = {person for person, _, _ in runs}
        rows = session.execute(
            select(Person.id, Person.email, Person.role).where(Person.id.in_(ids))
        )
        people = {row.id: row for row in rows}
        for day in days:
            pieces = [
                (people[p], day, day)
                for p, first, last in runs
                if first <= day <= last and p in people
            ]
            out.append(team_target(config, work, defn, key, pieces, day, day))
    else:
        memo: TargetMemo = {}
        out = [
            group_target_memo(config, work, defn, subject.members, day, day, memo) for day in days
        ]
    return tuple(out) if any(t is not None for t in out) else None


def _window_start(config: OrgConfig, last: dt.date) -> dt.date:
    """The first of the last `WINDOW_WORKING_DAYS` working days up to `last` (which is in
    the window whether it is a working day or not)."""
    work = work_calendar(config)
    day, counted = last, 0
    while True:
        counted += work.is_working_day(day)
        if counted >= WINDOW_WORKING_DAYS or (last - day).days >= 4 * WINDOW_WORKING_DAYS:
            return day
        day -= dt.timedelta(days=1)


def _why_no_series(result: Answer, subject: Subject, today: dt.date) -> str:
    days = (result.end - result.start).days + 1
    if days > SERIES_MAX_DAYS:
        return (
            f"No chart: a chart draws a point a day for up to {SERIES_MAX_DAYS} days and "
            f"{result.period_label} is {days}; ask for a shorter period (`last 30d`, "
            "`this month`, `last month`)."
        )
    if not subject.members:
        return f"No chart: {result.subject} has no active reps, so there is no line to draw."
    if result.start > today:
        return f"No chart: {result.period_label} has not started yet."
    return f"No chart: there are no daily numbers for {result.period_label}."


def _day(day: dt.date) -> str:
    return f"{day:%a %b} {day.day}"


def _span(first: dt.date, last: dt.date, this_year: int) -> str:
    """ "Nov 23–25", "Oct 27–Nov 25", with the year when it is not this one."""
    end = f"{last.day}" if (first.year, first.month) == (last.year, last.month) else ""
    end = end or f"{last:%b} {last.day}"
    text = f"{first:%b} {first.day}–{end}"
    if first.year != last.year:
        return f"{first:%b} {first.day}, {first.year}–{last:%b} {last.day}, {last.year}"
    return text if first.year == this_year else f"{text}, {first.year}"
