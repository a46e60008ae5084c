"""A manager's teams' week, counted as `/metric TEAM this week` counts each team.

For each input metric with a target: the value is the teams' rows of the week — everyone on
each team that day, the manager included (`metric_daily.team_key`); the target is their
reps' for the days each was on the team (`metrics.lookup.target_runs`); the pace each rep's
in their own zone (`metrics.group_pace`). `own` is the manager's part of the value, so a
view can say it: the reps' lines alone do not add up to the team's total when the manager
sells too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from metrics.batch import values_by_team
from metrics.group_pace import group_pace
from metrics.lookup import Scope, TargetRun, catalog_for, target_runs
from metrics.models import Person
from metrics.scoreboards import work_calendar
from metrics.targets import TargetMemo, status_for
from rhythms.config import OrgConfig


@dataclass(frozen=True)
class TeamWeekFigure:
    label: str
    value: float  # the teams' rows: reps and manager
    target: float | None  # the reps'
    expected: float | None  # due by now, each rep in their zone
    status: str
    unit: str
    own: float  # the manager's rows among `value`


def team_week_figures(
    session: Session,
    *,
    config: OrgConfig,
    manager: Person,
    teams: Sequence[str],
    monday: dt.date,
    sunday: dt.date,
    now: dt.datetime,
) -> list[TeamWeekFigure]:
    """The week [monday, sunday] of `teams` summed, per input metric with a target."""
    work = work_calendar(config)
    keys = list(teams)
    runs: list[TargetRun] = []
    for key in keys:
        runs += target_runs(
            session, Scope.team(key), monday, sunday, org_timezone=config.org.timezone
        )
    memo: TargetMemo = {}
    figures = []
    for defn in catalog_for(config).metrics.values():
        if defn.kind != "input" or not defn.additive or defn.special is not None:
            continue
        target, expected = group_pace(config, work, defn, runs, now=now, memo=memo)
        if target is None:
            continue
        value, own = (
            sum(
                v or 0.0
                for v in values_by_team(
                    session, defn=defn, team_keys=keys, start=monday, end=sunday, person_id=who
                ).values()
            )
            for who in (None, manager.id)
        )
        status = status_for(value, expected, config.org)
        figures.append(TeamWeekFigure(defn.label, value, target, expected, status, defn.unit, own))
    return figures
