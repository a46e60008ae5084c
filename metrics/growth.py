"""The growth model: what trailing volumes and conversion rates say bookings will be.

From the trailing window (rollups, ratios of sums): meetings held per working day, meeting →
opportunity rate, win rate and average deal size. Bookings per meeting = m→o × win rate ×
deal size. Projection for a future period = meetings per working day × its working days ×
bookings per meeting (steady state: it ignores the cycle lag, said so in docs/metrics.md).
The inputs needed for a target divide it back down the chain ("to make $1.2M you need 310
meetings at current conversion"). The naive view is reps × quota: the sum of the people's
monthly bookings targets (the scope's active reps, `metrics.lookup.target_people`).

A zero in the chain is a number, not a gap: closed deals and none won is a 0% win rate, so
the projection is 0 and no number of meetings reaches the target (`meetings_needed` None,
with a warning saying why); only a rate with nothing to divide (no meetings held, no deal
closed, no win with an amount) leaves the projection unknown.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy.orm import Session

from metrics.config import MetricsConfig
from metrics.lookup import Scope, catalog_for, metric_value, target_people
from metrics.scoreboards import work_calendar
from metrics.targets import group_target


@dataclass(frozen=True)
class Projection:
    label: str  # "December 2026", "next quarter"
    start: dt.date
    end: dt.date
    working_days: int
    projected_bookings: float | None
    target: float | None  # the goal: given explicitly, else reps × quota
    meetings_needed: int | None  # at current conversion, to hit the target
    opportunities_needed: int | None
    deals_needed: int | None
    gap: float | None  # target − projection (positive: short)
    naive: float | None = None  # reps × quota: the sum of people's bookings targets


@dataclass(frozen=True)
class GrowthModel:
    trailing_start: dt.date
    trailing_end: dt.date
    meetings_held: float
    meetings_per_working_day: float
    meeting_to_opportunity: float | None
    win_rate: float | None
    avg_deal_size: float | None
    bookings_per_meeting: float | None
    month: Projection
    quarter: Projection
    warnings: tuple[str, ...] = ()


def _month_end(day: dt.date) -> dt.date:
    return day.replace(day=_calendar.monthrange(day.year, day.month)[1])


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.month - 1 + months
    return dt.date(day.year + index // 12, index % 12 + 1, 1)


def per_meeting_value(m2o: float | None, win: float | None, size: float | None) -> float | None:
    """Bookings per meeting held: m→o × win rate × deal size. A factor that is 0 makes it 0
    even when a later one is unknown (no wins: no average deal size); else None if any is."""
    factors = (m2o, win, size)
    if any(f == 0 for f in factors):
        return 0.0
    if m2o is None or win is None or size is None:
        return None
    return m2o * win * size


def project(
    *,
    label: str,
    start: dt.date,
    end: dt.date,
    working_days: int,
    meetings_per_day: float,
    m2o: float | None,
    win: float | None,
    size: float | None,
    target: float | None,
    naive: float | None = None,
) -> Projection:
    """Pure projection arithmetic for one future period (tested by hand)."""
    per_meeting = per_meeting_value(m2o, win, size)
    projected = None if per_meeting is None else meetings_per_day * working_days * per_meeting
    meetings = opps = deals = None
    if target is not None and size:  # a zero rate: no number of them reaches the target
        deals = math.ceil(target / size)
        opps = math.ceil(target / (win * size)) if win else None
        meetings = math.ceil(target / per_meeting) if per_meeting else None
    gap = None if target is None or projected is None else target - projected
    return Projection(
        label, start, end, working_days, projected, target, meetings, opps, deals, gap, naive
    )


def growth_model(
    session: Session,
    *,
    config: MetricsConfig,
    scope: Scope,
    as_of: dt.date,
    trailing_days: int = 90,
    month_target: float | None = None,
    quarter_target: float | None = None,
) -> GrowthModel:
    """Project next calendar month and next quarter (3 months) from the trailing window
    ending `as_of` (inclusive). Targets default to reps × quota; pass the company's goal
    (e.g. 1_200_000) to plan against that instead — the naive view is kept alongside."""
    work = work_calendar(config)
    start = as_of - dt.timedelta(days=trailing_days - 1)

    def value(metric: str) -> float | None:
        return metric_value(
            session, config=config, metric=metric, scope=scope, start=start, end=as_of
        ).value

    held = value("meetings_held") or 0.0
    days = len(work.working_days(start, as_of))
    per_day = held / days if days else 0.0
    m2o, win, size = value("meeting_to_opportunity"), value("win_rate"), value("avg_deal_size")
    warnings: list[str] = []
    if held < 30:
        warnings.append(f"only {held:.0f} meetings held in the trailing window: rates are noisy")
    if win == 0:
        warnings.append(
            "no deal won in the trailing window (0% win rate): at current conversion the "
            "projection is 0 and no number of meetings reaches the target"
        )
    elif m2o == 0:
        warnings.append(
            "no opportunity created from the trailing window's meetings: at current "
            "conversion the projection is 0"
        )
    bookings = catalog_for(config).get("bookings")
    people = target_people(session, scope)  # reps × quota: the scope's reps, as the review

    def target(first: dt.date, last: dt.date) -> float | None:
        return group_target(config, work, bookings, people, first, last)

    def period(label: str, first: dt.date, last: dt.date, goal: float | None) -> Projection:
        naive = target(first, last)
        return project(
            label=label,
            start=first,
            end=last,
            working_days=len(work.working_days(first, last)),
            meetings_per_day=per_day,
            m2o=m2o,
            win=win,
            size=size,
            target=goal if goal is not None else naive,
            naive=naive,
        )

    month_start = _add_months(as_of, 1)
    quarter_end = _month_end(_add_months(as_of, 3))
    month = period(
        month_start.strftime("%B %Y"), month_start, _month_end(month_start), month_target
    )
    quarter = period("next 3 months", month_start, quarter_end, quarter_target)
    per_meeting = per_meeting_value(m2o, win, size)
    return GrowthModel(
        start, as_of, held, per_day, m2o, win, size, per_meeting, month, quarter, tuple(warnings)
    )
