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


class Zoned(Protocol):
    """A person with a zone (an alert `Member`): `today_pace` takes their local today."""

    @property
    def email(self) -> str | None: ...
    @property
    def role(self) -> str | None: ...
    @property
    def team_key(self) -> str | None: ...
    @property
    def timezone(self) -> str: ...


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
    `person_target`, and so are paces, per (metric, target, days, zone, instant)."""
    return _summed(config, work, defn, ((r, r.first, r.last) for r in runs), now, memo)


def today_pace(
    config: MetricsConfig,
    work: WorkCalendar,
    defn: MetricDef,
    people: Iterable[Zoned],
    *,
    now: dt.datetime,
    memo: TargetMemo | None = None,
) -> GroupPace:
    """`group_pace` of one-day runs: each person's own today in their zone at `now` (alerts
    call it once per subject, thousands of times at one instant: no run is built)."""
    return _summed(config, work, defn, ((p, None, None) for p in people), now, memo)


def _summed(
    config: MetricsConfig,
    work: WorkCalendar,
    defn: MetricDef,
    runs: Iterable[tuple[Zoned, dt.date | None, dt.date | None]],
    now: dt.datetime,
    memo: TargetMemo | None,
) -> GroupPace:
    """Each (person, first, last) run's target and pace at `now`, summed (no days: the
    person's local today)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    memo = {} if memo is None else memo
    stamp = now.timestamp()  # keys: an aware datetime hashes through its zone's utcoffset
    targets: list[float] = []
    due: list[float] = []
    for who, first, last in runs:
        local = _local(now, stamp, who.timezone)
        if first is None or last is None:
            first = last = local.date()
        target = person_target(config, work, defn, who, first, last, memo)
        if target is None:
            continue
        key = ("group_pace", defn.name, target, first, last, who.timezone, stamp)
        if key not in memo:
            memo[key] = expected_by(target, defn, work=work, start=first, end=last, local_now=local)
        targets.append(target)
        pace = memo[key]
        if pace is not None:
            due.append(pace)
    if not targets:
        return GroupPace(None, None)
    if not defn.additive:
        return GroupPace(targets[0], targets[0])
    return GroupPace(sum(targets), sum(due))


_LOCAL: dict[tuple[float, str], dt.datetime] = {}


def _local(now: dt.datetime, stamp: float, zone: str) -> dt.datetime:
    """`now` (at `stamp`) in `zone`, cached: a handful of zones, thousands of people."""
    key = (stamp, zone)
    local = _LOCAL.get(key)
    if local is None:
        if len(_LOCAL) >= 512:
            _LOCAL.clear()
        local = _LOCAL[key] = now.astimezone(ZoneInfo(zone))
    return local
