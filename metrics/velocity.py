"""Revenue velocity and acceleration.

velocity = open opportunities × win rate × average deal size ÷ average sales-cycle days
(reporting currency per day). Win rate, deal size and cycle come from rollups over the
trailing window (ratios of sums); open opportunities is a snapshot of deals open at the end of
the window (created on or before it, not closed by then) — the end of its last day in each
owner's own zone, where the rollups place their closes. Acceleration is the relative change
of velocity from one period to the next.

Deals closed in the window and none won is a 0% win rate: velocity 0, with a note saying so
(`Velocity.note`), not "unknown" — there is no average deal size or cycle without a win.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from metrics.config import MetricsConfig
from metrics.directory import person_timezone
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
    note: str | None = None  # why the value is what it is, when that needs saying


def velocity_formula(
    open_opps: int, win_rate: float | None, avg_size: float | None, cycle_days: float | None
) -> float | None:
    """open × win × size ÷ cycle; 0 at a 0% win rate (closed deals, none won: there is no
    size or cycle to know), None when another input is unknown."""
    if win_rate == 0:
        return 0.0
    if win_rate is None or avg_size is None or not cycle_days:
        return None
    return open_opps * win_rate * avg_size / cycle_days


def _open_query(at: dt.datetime) -> Any:
    return (
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


def _in_scope(query: Any, scope: Scope) -> Any:
    if scope.kind == "person":
        return query.where(CrmUser.person_id == scope.key)
    if scope.kind == "team":
        return query.join(Person, Person.id == CrmUser.person_id).where(
            Person.team_key == scope.key
        )
    return query


def open_opportunities(session: Session, *, scope: Scope, at: dt.datetime) -> int:
    """Deals open at instant `at` owned by people in scope (their current team for teams)."""
    return int(session.scalar(_in_scope(_open_query(at), scope)) or 0)


def open_at_day_end(session: Session, *, config: MetricsConfig, scope: Scope, day: dt.date) -> int:
    """Deals open at the end of local day `day`, each at midnight after it in its owner's
    zone (`metrics.directory.person_timezone`, as the rollups place a close): a deal an LA
    rep closes at 23:30 on Nov 30 is won in November and not open at its end."""
    people = select(Person.id, Person.timezone_override, Person.slack_timezone).where(
        Person.id.in_(select(CrmUser.person_id).where(CrmUser.person_id.is_not(None)))
    )
    if scope.kind == "person":
        people = people.where(Person.id == scope.key)
    elif scope.kind == "team":
        people = people.where(Person.team_key == scope.key)
    by_zone: dict[str, set[int]] = defaultdict(set)
    for person_id, override, slack_tz in session.execute(people):
        zone = person_timezone(_Zones(override, slack_tz), config.org.timezone)
        by_zone[zone].add(person_id)
    total = 0
    for zone, ids in by_zone.items():
        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):  # unknown zones count in the org's
            tz = ZoneInfo(config.org.timezone)
        at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC)
        query = _open_query(at).where(CrmUser.person_id.in_(sorted(ids)))
        total += int(session.scalar(query) or 0)
    return total


@dataclass(frozen=True)
class _Zones:
    timezone_override: str | None
    slack_timezone: str | None


def revenue_velocity(
    session: Session, *, config: MetricsConfig, scope: Scope, start: dt.date, end: dt.date
) -> Velocity:
    """Velocity over local days [start, end]; open deals counted at the end of `end` in
    each owner's zone."""

    def value(metric: str) -> float | None:
        return metric_value(
            session, config=config, metric=metric, scope=scope, start=start, end=end
        ).value

    opps = open_at_day_end(session, config=config, scope=scope, day=end)
    win, size, cycle = value("win_rate"), value("avg_deal_size"), value("sales_cycle_days")
    note = None
    if win == 0:
        lost = metric_value(
            session, config=config, metric="deals_lost", scope=scope, start=start, end=end
        ).value
        note = f"no deal won: {lost or 0:.0f} closed, all lost"
    return Velocity(
        start, end, opps, win, size, cycle, velocity_formula(opps, win, size, cycle), note=note
    )


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
