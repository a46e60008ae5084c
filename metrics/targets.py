"""Targets, pace and red/yellow/green status.

Precedence, per period (daily / weekly / monthly) independently: the person's override
(`people[].targets`), else the metric's target for the person's team key (reps only: a team's
target is its reps' — `team_target` — so a manager on the team is not held to a rep's), else
for the person's role. Every target is for working days: a weekly target is for a week of
the calendar's working weekdays, a monthly one for the month's working weekdays, and a
holiday takes its share off. A target over a date range uses an explicit weekly/monthly
target when the range is exactly that ISO week / calendar month, scaled by its working days ÷
its normal working days (`WorkCalendar.normal_working_days`: holidays counted as working);
else it sums a share per working day: the daily target, else the weekly target ÷ the
week's normal working days, else the monthly target ÷ the month's normal working days.
Ratio metrics (win rate...) have level targets: never scaled.

A person's target follows the team they were on each day: `metrics.memberships`.

Pace: the part of a target due by an instant. For a day it is the target × the share of the
working hours elapsed in the person's zone (`WorkCalendar.day_fraction_elapsed`); a past day
is due in full. Status compares value with pace using the org's bands. The daily scoreboard
grades count metrics against the whole number due (`whole_due`).
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from metrics.calendar import WorkCalendar
from metrics.catalog import MetricDef
from metrics.config import MetricsConfig, OrgSettings, PersonConfig, TargetSet
from metrics.scoreboard import Status

# Range targets shared across calls: ("group", team, role, metric, start, end) or
# ("person", email, metric, start, end) -> target, as summed (`_range_target`: not yet kept
# to 9 decimals, so that groups add the members' exact shares)
TargetMemo = dict[tuple[object, ...], float | None]
_MISSING: Any = object()

PeriodKind = Literal["daily", "weekly", "monthly"]
PERIODS: tuple[PeriodKind, ...] = ("daily", "weekly", "monthly")


_PEOPLE: dict[int, tuple[MetricsConfig, dict[str, PersonConfig]]] = {}


def _people(config: MetricsConfig) -> dict[str, PersonConfig]:
    """Email -> person config, indexed once per config (`config.person` is a linear scan)."""
    cached = _PEOPLE.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    index = {p.email: p for p in config.people}
    if len(_PEOPLE) > 32:
        _PEOPLE.clear()
    _PEOPLE[id(config)] = (config, index)
    return index


_OVERRIDES: dict[tuple[int, str], tuple[MetricsConfig, frozenset[str]]] = {}


def personal_target_emails(config: MetricsConfig, metric: str) -> frozenset[str]:
    """Emails of the people with a personal target for `metric` (once per config)."""
    cached = _OVERRIDES.get((id(config), metric))
    if cached is not None and cached[0] is config:
        return cached[1]
    emails = frozenset(p.email.lower() for p in config.people if metric in p.targets)
    if len(_OVERRIDES) > 256:
        _OVERRIDES.clear()
    _OVERRIDES[(id(config), metric)] = (config, emails)
    return emails


def target_sets(
    config: MetricsConfig, metric: str, *, email: str | None, role: str | None, team: str | None
) -> list[TargetSet]:
    """Candidate target sets, highest precedence first. A team key's targets are per rep
    (a team's target is its reps' sum): they apply to reps only."""
    sets: list[TargetSet] = []
    person = _people(config).get(email.lower()) if email else None
    if person is not None and metric in person.targets:
        sets.append(person.targets[metric])
    metric_cfg = config.metric(metric)
    if metric_cfg is not None:
        if team is not None and role == "rep" and team in metric_cfg.targets:
            sets.append(metric_cfg.targets[team])
        if role is not None and role in metric_cfg.targets:
            sets.append(metric_cfg.targets[role])
    return sets


def resolve_target(
    config: MetricsConfig,
    metric: str,
    period: PeriodKind,
    *,
    email: str | None,
    role: str | None,
    team: str | None,
) -> float | None:
    """The `period` target for a person: person override > team key > role."""
    for target_set in target_sets(config, metric, email=email, role=role, team=team):
        value: float | None = getattr(target_set, period)
        if value is not None:
            return value
    return None


TARGET_DECIMALS = 9


def target_for_range(
    config: MetricsConfig,
    work: WorkCalendar,
    metric: MetricDef,
    start: dt.date,
    end: dt.date,
    *,
    email: str | None,
    role: str | None,
    team: str | None,
) -> float | None:
    """The target for [start, end] (inclusive) for one person, or None without targets."""
    return _kept(
        metric,
        _range_target(config, work, metric, start, end, email=email, role=role, team=team),
    )


def _kept(metric: MetricDef, target: float | None) -> float | None:
    """A target as shown and graded: an additive one kept to 9 decimals. Daily shares add
    up with binary rounding (ten days of 0.9 make 9.000000000000002, and a rep with exactly
    9 would show yellow)."""
    if target is None or not metric.additive:
        return target
    return round(target, TARGET_DECIMALS)


def _range_target(
    config: MetricsConfig,
    work: WorkCalendar,
    metric: MetricDef,
    start: dt.date,
    end: dt.date,
    *,
    email: str | None,
    role: str | None,
    team: str | None,
) -> float | None:
    """`target_for_range` before it is kept to 9 decimals."""
    found = {
        period: resolve_target(config, metric.name, period, email=email, role=role, team=team)
        for period in PERIODS
    }
    if all(v is None for v in found.values()):
        return None
    if not metric.additive:
        return next(v for v in found.values() if v is not None)
    if start == end and found["daily"] is not None:
        return found["daily"] if work.is_working_day(start) else 0.0
    monday = start - dt.timedelta(days=start.weekday())
    if found["weekly"] is not None and start == monday and end == monday + dt.timedelta(days=6):
        return _scaled(work, found["weekly"], start, end)
    total = 0.0
    segment = start
    while segment <= end:  # month by month: whole months use the monthly target, scaled
        month_end = segment.replace(day=_calendar.monthrange(segment.year, segment.month)[1])
        last = min(end, month_end)
        if found["monthly"] is not None and segment.day == 1 and last == month_end:
            total += _scaled(work, found["monthly"], segment, last)
        else:
            total += sum(_daily_share(work, day, found) for day in work.working_days(segment, last))
        segment = last + dt.timedelta(days=1)
    return total


def _scaled(work: WorkCalendar, target: float, first: dt.date, last: dt.date) -> float:
    """A weekly or monthly target for its whole week or month [first, last]: × its working
    days ÷ its normal working days (Thanksgiving week with the Friday off too: 3 of 5, so
    250 calls are 150)."""
    normal = work.normal_working_days(first, last)
    working = len(work.working_days(first, last))
    return target if working == normal else target * working / normal


def _daily_share(work: WorkCalendar, day: dt.date, found: dict[PeriodKind, float | None]) -> float:
    """A working day's share: the daily target, else the weekly ÷ the week's normal working
    days, else the monthly ÷ the month's (holidays have no share, so none grows)."""
    if found["daily"] is not None:
        return found["daily"]
    if found["weekly"] is not None:
        monday = day - dt.timedelta(days=day.weekday())
        days = work.normal_working_days(monday, monday + dt.timedelta(days=6))
        return found["weekly"] / days if days else 0.0
    assert found["monthly"] is not None
    first = day.replace(day=1)
    last = day.replace(day=_calendar.monthrange(day.year, day.month)[1])
    days = work.normal_working_days(first, last)
    return found["monthly"] / days if days else 0.0


def expected_by(
    target: float | None,
    metric: MetricDef,
    *,
    work: WorkCalendar,
    start: dt.date,
    end: dt.date,
    local_now: dt.datetime,
) -> float | None:
    """The part of `target` for [start, end] due by `local_now` (person's zone); for a count
    metric the whole number due (`whole_due`), as the scoreboards grade and show it, so
    `/metric`, alerts, MAPLE's figures and the control tower agree with them."""
    if target is None:
        return None
    if not metric.additive:
        return target
    today = local_now.date()
    if today > end:
        return whole_due(target, metric)
    if today < start:
        return 0.0
    if start == end:
        return whole_due(target * work.day_fraction_elapsed(local_now), metric)
    return whole_due(target * work.period_fraction_elapsed(start, end, local_now), metric)


WHOLE_SLACK = 1e-9  # binary rounding: 20 x 9/9 may come out as 19.999999999999996


def counts_whole(metric: MetricDef) -> bool:
    """Whether the metric counts whole things (calls, meetings, deals): an additive metric
    in the `count` unit. Not currency, percent, ratio or averaged metrics."""
    return metric.unit == "count" and metric.additive


def whole_due(expected: float | None, metric: MetricDef) -> float | None:
    """Pace as the scoreboard grades and shows it: for a count metric the whole number due so
    far (11.1 calls due is 11: nobody can make a tenth of a call), else `expected` as is."""
    if expected is None or not counts_whole(metric):
        return expected
    return float(math.floor(expected + WHOLE_SLACK))


def status_for(
    value: float, expected: float | None, org: OrgSettings, *, higher_is_better: bool = True
) -> Status:
    """green / yellow / red by the share of pace achieved; "none" without a target."""
    if expected is None:
        return "none"
    if higher_is_better:
        if expected <= 0:
            return "green"
        share = value / expected
    else:
        if value <= 0:
            return "green"
        share = expected / value if expected > 0 else 0.0
    if share >= org.status_green_at:
        return "green"
    if share >= org.status_yellow_at:
        return "yellow"
    return "red"


def shortfall(value: float, expected: float | None, *, higher_is_better: bool = True) -> float:
    """How far from pace: what is missing (or, lower-is-better, the excess); 0 on pace."""
    if expected is None:
        return 0.0
    gap = expected - value if higher_is_better else value - expected
    return max(0.0, gap)


def group_target(
    config: MetricsConfig,
    work: WorkCalendar,
    metric: MetricDef,
    people: Iterable[Any],
    start: dt.date,
    end: dt.date,
) -> float | None:
    """The target of a group (a team, the org) for [start, end]: the members' targets summed
    for an additive metric; for a ratio, the first member's (ratios do not add). `people`
    are anything with `email`, `role` and `team_key` (a `Person`). None: nobody has one.
    Computed once per (team, role) for the members without a personal target (an org of
    10,000 reps has a few hundred such pairs): `group_target_memo` with a fresh memo."""
    return group_target_memo(config, work, metric, people, start, end, {})


def team_target(
    config: MetricsConfig,
    work: WorkCalendar,
    defn: MetricDef,
    team_key: str,
    days: Iterable[tuple[Any, dt.date, dt.date]],
    start: dt.date,
    end: dt.date,
) -> float | None:
    """A team's target for [start, end] from `days`: (member, first, last) runs of the days
    each was on the team (`metrics.directory.team_days`; members as in `group_target`). A
    rep on the team throughout adds their target for [start, end], as `group_target` does; a
    rep who joined or left in between adds the target of their own days there, under the
    team's targets — as the team's numbers count only those days of theirs."""
    memo: TargetMemo = {}
    known: list[float] = []
    for member, first, last in days:
        if first > last:
            continue
        on_team = _OnTeam(member.email, member.role, team_key)
        t = exact_person_target(config, work, defn, on_team, first, last, memo)
        if t is not None:
            known.append(t)
    return group_of(defn, known)


@dataclass(frozen=True)
class _OnTeam:
    email: str | None
    role: str | None
    team_key: str


def person_target(
    config: MetricsConfig,
    work: WorkCalendar,
    defn: MetricDef,
    person: Any,
    start: dt.date,
    end: dt.date,
    memo: TargetMemo,
) -> float | None:
    """`target_for_range` for one person (anything with `email`, `role`, `team_key`),
    computed once per (team, role, range) for everyone without a personal target."""
    return _kept(defn, exact_person_target(config, work, defn, person, start, end, memo))


def exact_person_target(
    config: MetricsConfig,
    work: WorkCalendar,
    defn: MetricDef,
    person: Any,
    start: dt.date,
    end: dt.date,
    memo: TargetMemo,
) -> float | None:
    """`person_target` before it is kept to 9 decimals: what groups add up (`group_of`)."""
    email = person.email
    key: tuple[object, ...]
    if email and email.lower() in personal_target_emails(config, defn.name):
        key = ("person", email, defn.name, start, end)
    else:
        key = ("group", person.team_key, person.role, defn.name, start, end)
    if key not in memo:
        memo[key] = _range_target(
            config,
            work,
            defn,
            start,
            end,
            email=email,
            role=person.role,
            team=person.team_key,
        )
    return memo[key]


def group_target_memo(
    config: MetricsConfig,
    work: WorkCalendar,
    defn: MetricDef,
    people: Iterable[Any],
    start: dt.date,
    end: dt.date,
    memo: TargetMemo,
) -> float | None:
    """`group_target` sharing `memo` across calls (`person_target`): the same sum."""
    return group_of(defn, exact_member_targets(config, work, defn, people, start, end, memo))


def exact_member_targets(
    config: MetricsConfig,
    work: WorkCalendar,
    defn: MetricDef,
    people: Iterable[Any],
    start: dt.date,
    end: dt.date,
    memo: TargetMemo,
) -> list[float]:
    """The `exact_person_target` of each of `people` who has one, in order (what `group_of`
    adds up). People without a personal target are looked up by (team, role) straight in
    `memo` (the inlined fast path of `person_target`: a team of 3,000 is 3,000 dict
    reads)."""
    overrides = personal_target_emails(config, defn.name)
    known: list[float] = []
    for p in people:
        email = p.email
        if not (email and email.lower() in overrides):
            t = memo.get(("group", p.team_key, p.role, defn.name, start, end), _MISSING)
            if t is not _MISSING:
                if t is not None:
                    known.append(t)
                continue
        t = exact_person_target(config, work, defn, p, start, end, memo)
        if t is not None:
            known.append(t)
    return known


def group_of(defn: MetricDef, known: list[float]) -> float | None:
    """A group's target from its members' exact targets (`exact_person_target`; None:
    nobody has one): for an additive metric their sum, then kept to 9 decimals (members
    each kept first would be off by up to
    half a billionth apiece: 3 × 114545.454545455 + 2 × 38181.818181818 is
    420000.000000001, and a team that made exactly 420k a hair short); for a ratio, the
    first member's (ratios do not add)."""
    if not known:
        return None
    return round(math.fsum(known), TARGET_DECIMALS) if defn.additive else known[0]
