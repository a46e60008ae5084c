"""A team's or the org's pace at an instant: each target person's pace in their own zone.

A group's target is its reps' (`metrics.lookup.target_runs`: a team's for the days each was
on it). Its pace at an instant is not that target × the share of working time elapsed in one
zone: at 16:00 in New York a Los Angeles rep's day is 4/9 done, not 7/9. `group_pace` adds up
each person's own pace — their target for their days (`metrics.targets.person_target`), due
by the instant in their zone (`expected_by`: for a count, the whole number due, per person,
as their scoreboard shows it) — as the team rank measures each rep. `/metric`, the App Home
and the control tower grade teams and the org with it; alerts can too (runs of one day).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

from metrics.calendar import WorkCalendar
from metrics.catalog import MetricDef
from metrics.config import MetricsConfig
from metrics.targets import TargetMemo, expected_by, person_target


class Run(Protocol):
    """A person's days in a group's target (`metrics.lookup.TargetRun`)."""

    @property
    def email(self) -> str | None: ...
    @property
    def role(self) -> str | None: ...
    @property
    def team_key(self) -> str | None: ...
    @property
    def timezone(self) -> str: ...
    @property
    def first(self) -> dt.date: ...
    @property
    def last(self) -> dt.date: ...


class GroupPace(NamedTuple):
    target: float | None  # the runs' targets summed (a ratio: the first's); None: no target
    pace: float | None  # the part of it due by the instant, each person in their zone


def group_pace(
    config: MetricsConfig,
    work: WorkCalendar,
    defn: MetricDef,
    runs: Iterable[Run],
    *,
    now: dt.datetime,
    memo: TargetMemo | None = None,
) -> GroupPace:
    """Target and pace at `now` (aware) of a group from its `runs`: each run's target for its
    days and the part of it due by `now` in the run's zone, summed. A ratio metric has a
    level target (the first run's), due whole. Targets are shared through `memo` as in
    `person_target`, and so are paces, per (metric, target, days, zone, instant): alerts
    call this once per subject, thousands of times at one instant."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    memo = {} if memo is None else memo
    zones: dict[str, dt.datetime] = {}
    targets: list[float] = []
    due: list[float] = []
    for run in runs:
        target = person_target(config, work, defn, run, run.first, run.last, memo)
        if target is None:
            continue
        key = ("group_pace", defn.name, target, run.first, run.last, run.timezone, now)
        if key not in memo:
            local = zones.get(run.timezone)
            if local is None:
                local = zones[run.timezone] = now.astimezone(ZoneInfo(run.timezone))
            memo[key] = expected_by(
                target, defn, work=work, start=run.first, end=run.last, local_now=local
            )
        targets.append(target)
        pace = memo[key]
        if pace is not None:
            due.append(pace)
    if not targets:
        return GroupPace(None, None)
    if not defn.additive:
        return GroupPace(targets[0], targets[0])
    return GroupPace(sum(targets), sum(due))
