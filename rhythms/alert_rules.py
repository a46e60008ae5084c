"""What an alert rule looks at: its subjects, and what each condition observes right now.

Reads rollups only, in a few grouped queries per rule (not one per person), so the example
rule set over a 10,000-rep org stays cheap. Conditions carry hysteresis: a value must get
`HYSTERESIS` past the threshold to clear, so a number hovering at the edge does not flap.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.batch import daily_series_by_person, values_by_person, values_by_team
from metrics.calendar import WorkCalendar
from metrics.catalog import MetricDef
from metrics.directory import person_timezone
from metrics.lookup import Scope, catalog_for, metric_value
from metrics.models import Person
from metrics.scoreboards import work_calendar
from metrics.targets import expected_by, group_target, status_for
from rhythms.alert_state import Observation
from rhythms.config import AlertRuleConfig, OrgConfig

HYSTERESIS = 0.05


@dataclass(frozen=True)
class Subject:
    key: str  # "person:12" | "team:sdr" | "org"
    name: str
    timezone: str
    person: Person | None = None
    team_key: str | None = None
    members: tuple[Person, ...] = ()  # people whose targets add up for a team/org


@dataclass(frozen=True)
class Seen:
    subject: Subject
    obs: Observation
    threshold: str  # human text for the message
    trend: tuple[float, ...] = ()
    red_days: int = 0


def active_people(session: Session) -> list[Person]:
    return list(session.scalars(select(Person).where(Person.active.is_(True)).order_by(Person.id)))


def subjects_for(
    session: Session,
    config: OrgConfig,
    rule: AlertRuleConfig,
    people: list[Person] | None = None,
) -> list[Subject]:
    """The rule's subjects; pass `people` (`active_people`) to share one load across rules."""
    people = people if people is not None else active_people(session)
    org_tz = config.org.timezone
    scope = rule.scope
    roles = set(scope.roles) or {"rep"}
    teams = set(scope.teams)
    emails = {e.lower() for e in scope.people}
    if scope.level == "person":
        return [
            Subject(
                f"person:{p.id}",
                p.name,
                person_timezone(p, org_tz),
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
        by_team: dict[str, list[Person]] = defaultdict(list)
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
    memo: dict[tuple[object, ...], float | None] | None = None,
) -> float | None:
    """The subject's target for `day`. With `memo`, people without a personal override
    share one computation per (team, role): a rule over 10,000 reps computes a handful."""
    key: tuple[object, ...] = (subject.key, day)
    if len(subject.members) == 1:
        person = subject.members[0]
        own = config.person(person.email)
        if own is None or defn.name not in own.targets:
            key = (person.team_key, person.role, day)
    if memo is not None and key in memo:
        return memo[key]
    target = group_target(config, work, defn, subject.members, day, day)
    if memo is not None:
        memo[key] = target
    return target


def in_working_hours(work: WorkCalendar, local: dt.datetime) -> bool:
    return 0.0 < work.day_fraction_elapsed(local) < 1.0


def observe(
    session: Session,
    *,
    config: OrgConfig,
    rule: AlertRuleConfig,
    subjects: list[Subject],
    now: dt.datetime,
) -> list[Seen]:
    """Observations for every subject in working time (others are left out: no change)."""
    work = work_calendar(config)
    defn = catalog_for(config).get(rule.metric)
    locals_ = {s.key: now.astimezone(ZoneInfo(s.timezone)) for s in subjects}
    active = [
        s for s in subjects if not rule.working_hours_only or in_working_hours(work, locals_[s.key])
    ]
    values = _values_today(session, config, defn, active, locals_)
    memo: dict[tuple[object, ...], float | None] = {}
    seen = []
    for subject in active:
        local = locals_[subject.key]
        value = values.get(subject.key)
        seen.append(_condition(session, config, work, rule, defn, subject, local, value, memo))
    return seen


def _values_today(
    session: Session,
    config: OrgConfig,
    defn: MetricDef,
    subjects: list[Subject],
    locals_: dict[str, dt.datetime],
) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    if defn.special is not None:
        for s in subjects:
            day = locals_[s.key].date()
            scope = (
                Scope.person(s.person.id)
                if s.person is not None
                else Scope.team(s.team_key)
                if s.team_key
                else Scope.org()
            )
            out[s.key] = metric_value(
                session, config=config, metric=defn.name, scope=scope, start=day, end=day
            ).value
        return out
    by_day: dict[dt.date, list[Subject]] = defaultdict(list)
    for s in subjects:
        by_day[locals_[s.key].date()].append(s)
    for day, group in by_day.items():
        people = [s for s in group if s.person is not None]
        if people:
            vals = values_by_person(
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
    memo: dict[tuple[object, ...], float | None] | None = None,
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
    expected = expected_by(target, defn, work=work, start=day, end=day, local_now=local)
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
    ids = [p.id for p in subject.members]
    series = daily_series_by_person(
        session, defn=defn, person_ids=ids, start=start, end=day - dt.timedelta(days=1)
    )
    totals = [sum(vals) for vals in zip(*series.values(), strict=True)] if series else []
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
) -> dict[str, int]:
    """Working days in a row before `day` that ended red, per subject (up to 10), for
    escalation; one rollup query for all of them (only firing subjects are asked about)."""
    if not subjects:
        return {}
    work = work_calendar(config)
    defn = catalog_for(config).get(rule.metric)
    start = day - dt.timedelta(days=21)
    ids = sorted({p.id for s in subjects for p in s.members})
    series = daily_series_by_person(
        session, defn=defn, person_ids=ids, start=start, end=day - dt.timedelta(days=1)
    )
    out: dict[str, int] = {}
    for subject in subjects:
        count = 0
        for offset in range(20, -1, -1):
            past = start + dt.timedelta(days=offset)
            if not work.is_working_day(past):
                continue
            total = sum(series[p.id][offset] for p in subject.members)
            target = group_target(config, work, defn, subject.members, past, past)
            if target is None or status_for(total, target, config.org) != "red":
                break
            count += 1
            if count >= 10:
                break
        out[subject.key] = count
    return out
