"""What an alert rule looks at: its subjects, and what each condition observes right now.

Reads rollups only, in a few grouped queries per rule (not one per person), so the example
rule set over a 10,000-rep org stays cheap: people are plain rows (`rhythms.alert_people`),
local time and working hours are worked out once per zone, targets once per (team, role)
(`metrics.group_values`), and team totals are summed by the database. Conditions carry
hysteresis: a value must get `HYSTERESIS` past the threshold to clear, so a number hovering at
the edge does not flap.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from metrics.batch import daily_series_by_person, values_by_team
from metrics.calendar import WorkCalendar
from metrics.catalog import PIPELINE_COVERAGE, MetricDef
from metrics.group_values import (
    PersonSums,
    daily_totals,
    pipeline_coverage,
    team_daily_totals,
)
from metrics.lookup import Scope, catalog_for, metric_value
from metrics.scoreboards import work_calendar
from metrics.targets import (
    TargetMemo,
    expected_by,
    group_target_memo,
    person_target,
    status_for,
)
from rhythms.alert_people import Directory, Member, load_directory
from rhythms.alert_state import Observation
from rhythms.config import AlertRuleConfig, OrgConfig

HYSTERESIS = 0.05


class Subject(NamedTuple):
    """A person, a team or the org, as one rule sees it (a named tuple: 10,000 per rule)."""

    key: str  # "person:12" | "team:sdr" | "org"
    name: str
    timezone: str
    person: Member | None = None
    team_key: str | None = None
    members: tuple[Member, ...] = ()  # people whose targets add up for a team/org


class Seen(NamedTuple):
    subject: Subject
    obs: Observation
    threshold: str  # human text for the message
    trend: tuple[float, ...] = ()
    red_days: int = 0


def subjects_for(
    session: Session,
    config: OrgConfig,
    rule: AlertRuleConfig,
    directory: Directory | None = None,
) -> list[Subject]:
    """The rule's subjects; pass `directory` (`load_directory`) to share one load across rules."""
    org_tz = config.org.timezone
    if directory is None:
        directory = load_directory(session, org_timezone=org_tz)
    people = directory.active
    scope = rule.scope
    roles = set(scope.roles) or {"rep"}
    teams = set(scope.teams)
    emails = {e.lower() for e in scope.people}
    if scope.level == "person":
        return [
            Subject(
                f"person:{p.id}",
                p.name,
                p.timezone,
                person=p,
                team_key=p.team_key,
                members=(p,),
            )
            for p in people
            if (p.email in emails)
            or (not emails and p.role in roles and (not teams or p.team_key in teams))
        ]
    members = [p for p in people if p.role in roles]
    if scope.level == "team":
        by_team: dict[str, list[Member]] = defaultdict(list)
        for p in members:
            if p.team_key:
                by_team[p.team_key].append(p)
        return [
            Subject(
                f"team:{t.key}",
                f"{t.name} team",
                org_tz,
                team_key=t.key,
                members=tuple(by_team.get(t.key, ())),
            )
            for t in config.teams
            if not teams or t.key in teams
        ]
    return [Subject("org", config.org.name, org_tz, members=tuple(members))]


def _target(
    config: OrgConfig,
    work: WorkCalendar,
    defn: MetricDef,
    subject: Subject,
    day: dt.date,
    memo: TargetMemo,
) -> float | None:
    """The subject's target for `day` (`metrics.targets.group_target` of its members). People
    without a personal override share one computation per (team, role) through `memo`, so a
    rule over 10,000 reps computes a handful."""
    if len(subject.members) == 1:
        return person_target(config, work, defn, subject.members[0], day, day, memo)
    key: tuple[object, ...] = ("subject", subject.key, defn.name, day)
    if key not in memo:
        memo[key] = group_target_memo(config, work, defn, subject.members, day, day, memo)
    return memo[key]


def in_working_hours(work: WorkCalendar, local: dt.datetime) -> bool:
    return 0.0 < work.day_fraction_elapsed(local) < 1.0


def observe(
    session: Session,
    *,
    config: OrgConfig,
    rule: AlertRuleConfig,
    subjects: list[Subject],
    now: dt.datetime,
    memo: TargetMemo | None = None,
    sums: PersonSums | None = None,
) -> list[Seen]:
    """Observations for every subject in working time (others are left out: no change).

    Local time, working hours and pace are per zone, not per subject. `memo` holds targets
    and pace for this rule at this instant; `sums` may be shared by the rules of one tick."""
    work = work_calendar(config)
    defn = catalog_for(config).get(rule.metric)
    zones = {zone: now.astimezone(ZoneInfo(zone)) for zone in {s.timezone for s in subjects}}
    open_ = {zone: in_working_hours(work, local) for zone, local in zones.items()}
    active = [s for s in subjects if not rule.working_hours_only or open_[s.timezone]]
    values = _values_today(session, config, defn, active, zones, sums or PersonSums())
    memo = memo if memo is not None else {}
    return [
        _condition(
            session,
            config,
            work,
            rule,
            defn,
            subject,
            zones[subject.timezone],
            values.get(subject.key),
            memo,
        )
        for subject in active
    ]


def _values_today(
    session: Session,
    config: OrgConfig,
    defn: MetricDef,
    subjects: list[Subject],
    zones: dict[str, dt.datetime],
    sums: PersonSums,
) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    if defn.special is not None:
        for s in subjects:
            day = zones[s.timezone].date()
            scope = (
                Scope.person(s.person.id)
                if s.person is not None
                else Scope.team(s.team_key)
                if s.team_key
                else Scope.org()
            )
            if defn.special == PIPELINE_COVERAGE:
                out[s.key] = pipeline_coverage(
                    session, config=config, scope=scope, start=day, end=day
                ).value
            else:
                out[s.key] = metric_value(
                    session, config=config, metric=defn.name, scope=scope, start=day, end=day
                ).value
        return out
    by_day: dict[dt.date, list[Subject]] = defaultdict(list)
    for s in subjects:
        by_day[zones[s.timezone].date()].append(s)
    for day, group in by_day.items():
        people = [s for s in group if s.person is not None]
        if people:
            vals = sums.values(
                session,
                defn=defn,
                person_ids=[s.person.id for s in people if s.person],
                start=day,
                end=day,
            )
            out.update({s.key: vals.get(s.person.id) for s in people if s.person})
        teams = [s for s in group if s.person is None and s.team_key]
        if teams:
            tvals = values_by_team(
                session,
                defn=defn,
                team_keys=[s.team_key for s in teams if s.team_key],
                start=day,
                end=day,
            )
            out.update({s.key: tvals.get(s.team_key or "") for s in teams})
        for s in group:
            if s.person is None and s.team_key is None:
                out[s.key] = metric_value(
                    session, config=config, metric=defn.name, scope=Scope.org(), start=day, end=day
                ).value
    return out


def _num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 or float(value).is_integer() else f"{value:,.1f}"


def _condition(
    session: Session,
    config: OrgConfig,
    work: WorkCalendar,
    rule: AlertRuleConfig,
    defn: MetricDef,
    subject: Subject,
    local: dt.datetime,
    value: float | None,
    memo: TargetMemo,
) -> Seen:
    v = rule.value if rule.value is not None else 0.0
    day = local.date()
    if value is None:
        return Seen(subject, Observation(False, False, None), "no data")
    cond = rule.condition
    if cond in ("below", "coverage_below"):
        return Seen(
            subject,
            Observation(value < v, value >= v * (1 + HYSTERESIS) + 1e-9, value),
            _num(v) + ("×" if cond == "coverage_below" else ""),
        )
    if cond == "above":
        return Seen(subject, Observation(value > v, value <= v * (1 - HYSTERESIS), value), _num(v))
    if cond == "no_activity_by":
        assert rule.by_time is not None
        due = local.time() >= rule.by_time
        return Seen(
            subject,
            Observation(due and value <= 0, (not due) or value > 0, value),
            f"none by {rule.by_time:%H:%M}",
        )
    target = _target(config, work, defn, subject, day, memo)
    # Per zone and target, not per subject (a memo is for one rule at one instant). Not
    # keyed by `local`: aware datetimes of one instant in two zones compare equal.
    pace_key: tuple[object, ...] = ("pace", defn.name, target, subject.timezone)
    if pace_key not in memo:
        memo[pace_key] = expected_by(target, defn, work=work, start=day, end=day, local_now=local)
    expected = memo[pace_key]
    if cond == "below_pace_pct":
        if not expected:
            return Seen(subject, Observation(False, True, value), "no pace yet")
        ratio = value / expected
        return Seen(
            subject,
            Observation(ratio < v, ratio >= v + HYSTERESIS, value),
            f"{v:.0%} of pace ({_num(expected * v)})",
        )
    if cond == "drop_vs_trailing_pct":
        return _drop(session, work, rule, defn, subject, local, value)
    # turns_red: red breaches, only green clears (yellow is the hysteresis band)
    status = status_for(value, expected, config.org, higher_is_better=defn.higher_is_better)
    return Seen(
        subject,
        Observation(status == "red", status == "green", value),
        f"pace {_num(expected or 0)}",
    )


def _drop(
    session: Session,
    work: WorkCalendar,
    rule: AlertRuleConfig,
    defn: MetricDef,
    subject: Subject,
    local: dt.datetime,
    value: float,
) -> Seen:
    v = rule.value or 0.0
    day = local.date()
    start = day - dt.timedelta(days=rule.trailing_days)
    end = day - dt.timedelta(days=1)
    if subject.person is None and subject.team_key:
        # the team as it was each day, as its value today is counted (`values_by_team`)
        totals = team_daily_totals(
            session, defn=defn, team_key=subject.team_key, start=start, end=end
        )
    else:
        ids = [p.id for p in subject.members]
        totals = daily_totals(session, defn=defn, person_ids=ids, start=start, end=end)
    working = [
        total for i, total in enumerate(totals) if work.is_working_day(start + dt.timedelta(days=i))
    ]
    average = sum(working) / len(working) if working else 0.0
    fraction = work.day_fraction_elapsed(local)
    expected = average * fraction
    if expected <= 0:
        return Seen(subject, Observation(False, True, value), "no baseline")
    return Seen(
        subject,
        Observation(value < expected * (1 - v), value >= expected * (1 - v + HYSTERESIS), value),
        f"{v:.0%} below {rule.trailing_days}-day avg ({_num(expected)})",
        trend=tuple(working[-7:]),
    )


def red_days_for(
    session: Session,
    *,
    config: OrgConfig,
    rule: AlertRuleConfig,
    subjects: list[Subject],
    day: dt.date,
    memo: TargetMemo | None = None,
) -> dict[str, int]:
    """Working days in a row before `day` that ended red, per subject (up to 10), for
    escalation. Walks back one working day at a time, asking the rollups only about the
    subjects still red (a streak ends at the first day that was not), so a morning with
    1,500 new firings reads a few thousand rows, not three weeks of each subject's."""
    if not subjects:
        return {}
    work = work_calendar(config)
    defn = catalog_for(config).get(rule.metric)
    memo = memo if memo is not None else {}
    counts = dict.fromkeys((s.key for s in subjects), 0)
    streaking = list(subjects)
    for back in range(1, 22):
        if not streaking:
            break
        past = day - dt.timedelta(days=back)
        if not work.is_working_day(past):
            continue
        ids = sorted({p.id for s in streaking for p in s.members})
        series = daily_series_by_person(session, defn=defn, person_ids=ids, start=past, end=past)
        still = []
        for subject in streaking:
            total = sum(series[p.id][0] for p in subject.members)
            target = group_target_memo(config, work, defn, subject.members, past, past, memo)
            if target is None or status_for(total, target, config.org) != "red":
                continue
            counts[subject.key] += 1
            if counts[subject.key] < 10:
                still.append(subject)
        streaking = still
    return counts
