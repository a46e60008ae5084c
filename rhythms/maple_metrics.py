"""The **M** of MAPLE, computed: the week's input metrics vs target for a person's scope.

A manager (or exec) sees their team's week; a rep sees their own. Values come from the
metrics engine (rollups); targets are the members' targets for the same days, summed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.directory import person_timezone
from metrics.lookup import Scope, catalog_for, metric_value
from metrics.models import Person
from metrics.scoreboards import work_calendar
from metrics.targets import expected_by, group_target, status_for
from rhythms.blocks import fmt_number, status_dot
from rhythms.config import OrgConfig
from rhythms.maple import week_bounds


@dataclass(frozen=True)
class WeekFigure:
    label: str
    value: float
    target: float | None
    expected: float | None
    status: str
    unit: str


def week_figures(
    session: Session, *, config: OrgConfig, person: Person, week: str, now: dt.datetime
) -> list[WeekFigure]:
    """Input metrics with targets for the person's scope, week to date (or the whole week)."""
    monday, sunday = week_bounds(week)
    work = work_calendar(config)
    catalog = catalog_for(config)
    zone = ZoneInfo(person_timezone(person, config.org.timezone))
    local_now = now.astimezone(zone)
    team_scope = person.role in ("manager", "exec", "admin") and person.team_key is not None
    if team_scope:
        members = list(
            session.scalars(
                select(Person).where(
                    Person.team_key == person.team_key,
                    Person.role == "rep",
                    Person.active.is_(True),
                )
            )
        )
        scope = Scope.team(person.team_key or "")
    else:
        members, scope = [person], Scope.person(person.id)
    figures = []
    for defn in catalog.metrics.values():
        if defn.kind != "input" or not defn.additive:
            continue
        target = group_target(config, work, defn, members, monday, sunday)
        if target is None:
            continue
        value = (
            metric_value(
                session, config=config, metric=defn.name, scope=scope, start=monday, end=sunday
            ).value
            or 0.0
        )
        expected = expected_by(
            target, defn, work=work, start=monday, end=sunday, local_now=local_now
        )
        figures.append(
            WeekFigure(
                defn.label,
                value,
                target,
                expected,
                status_for(value, expected, config.org),
                defn.unit,
            )
        )
    return figures


def metrics_line(
    session: Session, *, config: OrgConfig, person: Person, week: str, now: dt.datetime
) -> str:
    """One line for the digest: 'Calls 262/300 · Meetings booked 11/10'."""
    currency = config.currency.reporting
    figures = week_figures(session, config=config, person=person, week=week, now=now)
    if not figures:
        return "_no targets configured_"
    return " · ".join(
        f"{status_dot(f.status)} {f.label} {fmt_number(f.value, f.unit, currency)}"
        f"/{fmt_number(f.target or 0, f.unit, currency)}"
        for f in figures[:6]
    )


def metrics_text(
    session: Session, *, config: OrgConfig, person: Person, week: str, now: dt.datetime
) -> str:
    """The modal's pre-filled Metrics section (mrkdwn)."""
    currency = config.currency.reporting
    figures = week_figures(session, config=config, person=person, week=week, now=now)
    scope = "Your team's week" if person.role != "rep" else "Your week"
    if not figures:
        return f"*M · Metrics* — {scope}: no targets configured for your inputs."
    lines = [f"*M · Metrics* — {scope} so far (from the CRM):"]
    for f in figures:
        lines.append(
            f"{status_dot(f.status)} *{f.label}* {fmt_number(f.value, f.unit, currency)}"
            f" of {fmt_number(f.target or 0, f.unit, currency)}"
            + (
                f" (pace {fmt_number(f.expected, f.unit, currency)})"
                if f.expected is not None
                else ""
            )
        )
    return "\n".join(lines)
