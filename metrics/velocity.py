"""Revenue velocity and acceleration.

velocity = open opportunities × win rate × average deal size ÷ average sales-cycle days
(reporting currency per day). Win rate, deal size and cycle come from rollups over the
trailing window (ratios of sums); open opportunities is a snapshot of deals open at the end of
the window (created on or before it, not closed by then). Acceleration is the relative change
of velocity from one period to the next.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from metrics.config import MetricsConfig
from metrics.lookup import Scope, metric_value
from metrics.models import CrmUser, Deal, Person


@dataclass(frozen=True)
class Velocity:
    start: dt.date
    end: dt.date
    open_opportunities: int
    win_rate: float | None
    avg_deal_size: float | None
    cycle_days: float | None
    value: float | None  # reporting currency per day; None when an input is unknown
    acceleration: float | None = None  # change vs the previous period (0.1 = +10%)


def velocity_formula(
    open_opps: int, win_rate: float | None, avg_size: float | None, cycle_days: float | None
) -> float | None:
    if win_rate is None or avg_size is None or not cycle_days:
        return None
    return open_opps * win_rate * avg_size / cycle_days


def open_opportunities(session: Session, *, scope: Scope, at: dt.datetime) -> int:
    """Deals open at instant `at` owned by people in scope (their current team for teams)."""
    query = (
        select(func.count())
        .select_from(Deal)
        .join(CrmUser, CrmUser.id == Deal.owner_id)
        .where(Deal.deleted.is_(False), Deal.created_at <= at, CrmUser.person_id.is_not(None))
        .where(
            or_(
                and_(Deal.closed_at.is_(None), Deal.is_closed.is_(False)),
                Deal.closed_at > at,
            )
        )
    )
    if scope.kind == "person":
        query = query.where(CrmUser.person_id == scope.key)
    elif scope.kind == "team":
        query = query.join(Person, Person.id == CrmUser.person_id).where(
            Person.team_key == scope.key
        )
    return int(session.scalar(query) or 0)


def revenue_velocity(
    session: Session, *, config: MetricsConfig, scope: Scope, start: dt.date, end: dt.date
) -> Velocity:
    """Velocity over local days [start, end]; open deals counted at the end of `end`
    (midnight after it in the org's zone)."""

    def value(metric: str) -> float | None:
        return metric_value(
            session, config=config, metric=metric, scope=scope, start=start, end=end
        ).value

    end_instant = dt.datetime.combine(
        end + dt.timedelta(days=1), dt.time(), ZoneInfo(config.org.timezone)
    ).astimezone(dt.UTC)
    opps = open_opportunities(session, scope=scope, at=end_instant)
    win, size, cycle = value("win_rate"), value("avg_deal_size"), value("sales_cycle_days")
    return Velocity(start, end, opps, win, size, cycle, velocity_formula(opps, win, size, cycle))


def velocity_trend(
    session: Session,
    *,
    config: MetricsConfig,
    scope: Scope,
    end: dt.date,
    periods: int = 6,
    period_days: int = 30,
) -> list[Velocity]:
    """`periods` consecutive windows of `period_days` ending on `end`, oldest first, each
    with its acceleration against the one before."""
    if periods < 1 or period_days < 1:
        raise ValueError("periods and period_days must be at least 1")
    points: list[Velocity] = []
    for i in range(periods - 1, -1, -1):
        stop = end - dt.timedelta(days=i * period_days)
        start = stop - dt.timedelta(days=period_days - 1)
        point = revenue_velocity(session, config=config, scope=scope, start=start, end=stop)
        previous = points[-1].value if points else None
        points.append(_with_acceleration(point, previous))
    return points


def _with_acceleration(point: Velocity, previous: float | None) -> Velocity:
    if previous is None or point.value is None or previous == 0:
        return point
    from dataclasses import replace

    return replace(point, acceleration=(point.value - previous) / previous)
