"""The rollup numbers of one `/metric` answer in as few statements as possible.

`answer()` needs, for one metric and one subject, the base sums of the period, the base sums
of the previous period and a daily series of the same rows. Asked separately that is four
statements, each built and compiled by SQLAlchemy; at 50 requests in flight that overhead is
most of the bot's CPU. Here:

- `period_numbers` reads every `metric_daily` row (person) or per-day sum (team; org: per
  team, through the team index) the two periods touch in one statement and sums them in
  Python: the current and the previous period may overlap ("this month" on March 31
  compares with Feb 1–Mar 3), so each range is summed on its own from the same rows;
- `freshness` asks for the last good sync and "is there any data" in one statement;
- `viewer` finds the asking person with one prebuilt statement.

Semantics are those of `metrics.lookup.metric_value` (team = rows recorded on the team:
everyone on it that day, manager included; org = every row) and, for the series, of
`metrics.batch.daily_series_by_person` for a person, `metrics.group_values.team_daily_totals`
for a team and `org_daily_totals` for the org — so a series adds up to its value; the tests
compare both paths on the same fixtures (tests/rhythms/test_metric_numbers.py).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.orm import Session

from metrics.catalog import MetricDef
from metrics.lookup import Scope, team_by_team
from metrics.models import MetricDaily, Person, SyncRun

# Longest span (previous period start .. current end) read row by row; longer spans (a year
# and more) are summed by the database instead (metrics.lookup), where rows would pile up.
MAX_SPAN_DAYS = 400


@dataclass(frozen=True)
class PeriodNumbers:
    current: dict[str, float]  # base -> sum over [start, end]
    previous: dict[str, float]  # base -> sum over the previous period
    # the series of the scope's rows, as `current` sums them; None: not asked for
    daily: tuple[float, ...] | None


def _rows_query(kind: str) -> Any:
    day_sum = func.sum(MetricDaily.value)
    query = (
        select(MetricDaily.metric, MetricDaily.day, day_sum)
        .where(MetricDaily.metric.in_(bindparam("bases", expanding=True)))
        .where(MetricDaily.day >= bindparam("lo"), MetricDaily.day <= bindparam("hi"))
        .group_by(MetricDaily.metric, MetricDaily.day)
    )
    if kind == "person":
        query = query.where(MetricDaily.person_id == bindparam("key"))
    elif kind == "team":
        query = query.where(MetricDaily.team_key == bindparam("key"))
    return query


_ROWS = {kind: _rows_query(kind) for kind in ("person", "team")}


_ORG_ROWS = (
    select(MetricDaily.metric, MetricDaily.day, func.sum(MetricDaily.value))
    .where(MetricDaily.metric.in_(bindparam("bases", expanding=True)))
    .where(MetricDaily.day >= bindparam("lo"), MetricDaily.day <= bindparam("hi"))
)
_FRESHNESS = select(
    select(func.max(SyncRun.finished_at)).where(SyncRun.status == "ok").scalar_subquery(),
    exists(select(MetricDaily.person_id)),
)
_VIEWER = (
    select(Person)
    .where(Person.slack_user_id == bindparam("user"), Person.active.is_(True))
    .limit(1)
)


def fits(start: dt.date, end: dt.date, previous: tuple[dt.date, dt.date]) -> bool:
    """Whether `period_numbers` serves this pair of periods (else use metrics.lookup)."""
    lo, hi = min(start, previous[0]), max(end, previous[1])
    return (hi - lo).days <= MAX_SPAN_DAYS


def period_numbers(
    session: Session,
    *,
    defn: MetricDef,
    scope: Scope,
    start: dt.date,
    end: dt.date,
    previous: tuple[dt.date, dt.date],
    series_end: dt.date | None = None,
) -> PeriodNumbers:
    """Base sums of [start, end] and of `previous` (inclusive local days) for `scope`, and
    with `series_end` the daily series of [start, series_end] of the same rows."""
    if end < start or previous[1] < previous[0]:
        raise ValueError(f"period ends before it starts ({start}..{end}, {previous})")
    lo, hi = min(start, previous[0]), max(end, previous[1])
    params: dict[str, Any] = {"bases": sorted(set(defn.bases)), "lo": lo, "hi": hi}
    if scope.kind != "org":
        params["key"] = scope.key
    if session.new or session.dirty or session.deleted:
        session.flush()  # Core on the connection would not autoflush
    conn = session.connection()
    if scope.kind == "org":  # rows of one (metric, day) come once per team
        statement = team_by_team(conn, _ORG_ROWS, MetricDaily.metric, MetricDaily.day)
    else:
        statement = _ROWS[scope.kind]
    by_day: dict[str, dict[dt.date, float]] = defaultdict(lambda: defaultdict(float))
    for metric, day, total in conn.execute(statement, params):
        by_day[metric][day] += float(total or 0.0)
    current = _sums(defn.bases, by_day, start, end)
    before = _sums(defn.bases, by_day, previous[0], previous[1])
    daily = None
    if series_end is not None:
        daily = _series(defn, by_day, start, series_end)
    return PeriodNumbers(current, before, daily)


def _sums(
    bases: tuple[str, ...], by_day: dict[str, dict[dt.date, float]], start: dt.date, end: dt.date
) -> dict[str, float]:
    return {
        base: math.fsum(v for day, v in by_day.get(base, {}).items() if start <= day <= end)
        for base in bases
    }


def _series(
    defn: MetricDef, by_day: dict[str, dict[dt.date, float]], start: dt.date, end: dt.date
) -> tuple[float, ...]:
    """Numerator bases per day (as `metrics.batch.daily_series_by_person` for one person)."""
    days = (end - start).days + 1
    if days <= 0:
        return ()
    values = [0.0] * days
    for base in set(defn.numerator):
        for day, v in by_day.get(base, {}).items():
            if start <= day <= end:
                values[(day - start).days] += v
    return tuple(v * defn.scale for v in values)


def freshness(session: Session) -> tuple[dt.datetime | None, bool]:
    """(when the last successful CRM sync finished, whether any rollup row exists)."""
    if session.new or session.dirty or session.deleted:
        session.flush()
    row = session.connection().execute(_FRESHNESS).one()
    return row[0], bool(row[1])


def viewer(session: Session, slack_user_id: str) -> Person | None:
    """The active person behind a Slack user id (as `rhythms.permissions.viewer_for`)."""
    return session.scalars(_VIEWER, {"user": slack_user_id}).first()
