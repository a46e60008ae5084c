"""The **M** of MAPLE, computed: the week's input metrics vs target for a person's scope.

A rep sees their own week. Anyone else sees their teams' week, chosen as the team
scoreboard chooses (`managed_teams`): the teams they manage in the config, else their own
team; and counted as the scoreboard counts: the active reps of those teams, their values
(`metrics.scoreboard_rows`: the rollups of those people, wherever the rows are filed) against
their targets for the same days, summed. The manager's own calls are not added to targets
that only reps carry. Someone with no team sees their own week.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from metrics.directory import person_timezone
from metrics.lookup import catalog_for, value_from_sums
from metrics.models import Person
from metrics.scoreboard_rows import read_sums, team_reps
from metrics.scoreboards import work_calendar
from metrics.targets import expected_by, group_target, status_for
from rhythms.blocks import fmt_number, status_dot
from rhythms.config import OrgConfig
from rhythms.maple import week_bounds
from rhythms.permissions import covered_teams


@dataclass(frozen=True)
class WeekFigure:
    label: str
    value: float
    target: float | None
    expected: float | None
    status: str
    unit: str


def managed_teams(config: OrgConfig, person: Person) -> list[str]:
    """The teams a manager's numbers cover — the team scoreboard's choice: the teams whose
    `manager` they are in the config, else their own team (none for a rep)."""
    if person.role == "rep":
        return []
    return covered_teams(config, person.email, person.team_key)


def scope_label(config: OrgConfig, person: Person) -> str:
    """'Your week', "Your team's week" or "Your teams' week (SDR, Account Executives)"."""
    teams = managed_teams(config, person)
    if not teams:
        return "Your week"
    if len(teams) == 1:
        return "Your team's week"
    names = [getattr(config.team(key), "name", key) for key in teams]
    return f"Your teams' week ({', '.join(names)})"


def week_figures(
    session: Session, *, config: OrgConfig, person: Person, week: str, now: dt.datetime
) -> list[WeekFigure]:
    """Input metrics with targets for the person's scope, week to date (or the whole week)."""
    monday, sunday = week_bounds(week)
    work = work_calendar(config)
    catalog = catalog_for(config)
    zone = ZoneInfo(person_timezone(person, config.org.timezone))
    local_now = now.astimezone(zone)
    teams = managed_teams(config, person)
    members: list[Any] = (
        [rep for key in teams for rep in team_reps(session, key)] if teams else [person]
    )
    inputs = [d for d in catalog.metrics.values() if d.kind == "input" and d.additive]
    bases = sorted({base for d in inputs for base in d.bases})
    day_sums = read_sums(session, [m.id for m in members], bases, monday, sunday)
    totals = dict.fromkeys(day_sums.names, 0.0)
    for row in day_sums.rows.values():
        for name, value in zip(day_sums.names, row, strict=True):
            totals[name] += float(value or 0.0)
    figures = []
    for defn in inputs:
        target = group_target(config, work, defn, members, monday, sunday)
        if target is None:
            continue
        value = value_from_sums(defn, totals)[0] or 0.0
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
    scope = scope_label(config, person)
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
