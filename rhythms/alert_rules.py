"""What an alert rule looks at: its subjects, and what each condition observes right now.

Reads rollups only, in a few grouped queries per rule (not one per person), so the example
rule set over a 10,000-rep org stays cheap: people are plain rows (`rhythms.alert_people`),
local time and working hours are worked out once per zone, targets once per (team, role)
(`metrics.group_values`), and team totals are summed by the database. Conditions carry
hysteresis: a value must get `HYSTERESIS` past the threshold to clear, so a number hovering at
the edge does not flap.

A team or the org has no zone of its own: its pace is its people's paces added up, each in
their own zone at that instant (`metrics.group_pace`), and it is in working hours while any
of its people is. `turns_red` judges nobody before `TURNS_RED_FROM` of their working day
has passed: with two calls due, one call decides the colour.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from metrics.batch import daily_series_by_person, values_by_team
from metrics.calendar import WorkCalendar
from metrics.catalog import PIPELINE_COVERAGE, MetricDef
from metrics.group_pace import today_pace
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
from rhythms import alert_wording as wording
from rhythms.alert_people import Directory, Member, load_directory
from rhythms.alert_state import Observation
from rhythms.config import AlertRuleConfig, OrgConfig

HYSTERESIS = 0.05
TURNS_RED_FROM = 0.2  # share of the working day elapsed before `turns_red` judges anyone


class Subject(NamedTuple):
    """A person, a team or the org, as one rule sees it (a named tuple: 10,000 per rule)."""

    key: str  # "person:12" | "team:sdr" | "org"
    name: str
    timezone: str
    person: Member | None = None
    team_key: str | None = None
    members: tuple[Member, ...] = ()  # people whose targets add up for a team/org


@dataclass(frozen=True)
class Said:
    """A detail line written only when a message needs it: most observations never fire, and
    writing 10,000 of them cost ~30 ms a rule. Equal when written from equal inputs."""

    write: Callable[..., str]
    args: tuple[Any, ...]
    alert: str | None = None

    def __str__(self) -> str:
        if self.alert is None:
            return self.write(*self.args)
        return self.write(*self.args, alert=self.alert)


class Seen(NamedTuple):
    subject: Subject
    obs: Observation
    said: str | Said  # the detail, or how to write it
    trend: tuple[float, ...] = ()
    red_days: int = 0

    @property
    def detail(self) -> str:
        """What the message says: "12 calls of 25 due by now (48%), 13 short — …"."""
        return str(self.said)


def zones_of(subject: Subject) -> tuple[str, ...]:
    """The zones a subject lives in: a person's own; a team's or the org's, its people's
    (its own, the org zone, when it has nobody)."""
    if subject.person is not None or not subject.members:
        return (subject.timezone,)
    return tuple(sorted({m.timezone for m in subject.members}))


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
    only_zones: frozenset[str] | None = None,
) -> list[Seen]:
    """Observations for every subject in working time (others are left out: no change); with
    `only_zones`, only the subjects living in one of them (the zones whose check is due).

    Local time, working hours and pace are per zone, not per subject. `memo` holds targets
    and pace for this rule at this instant; `sums` may be shared by the rules of one tick."""
    work = work_calendar(config)
    defn = catalog_for(config).get(rule.metric)
    lives = {s.key: zones_of(s) for s in subjects}
    every = {s.timezone for s in subjects} | {z for zs in lives.values() for z in zs}
    zones = {zone: now.astimezone(ZoneInfo(zone)) for zone in every}
    open_ = {zone: in_working_hours(work, local) for zone, local in zones.items()}
    active = [
        s
        for s in subjects
        if (only_zones is None or not only_zones.isdisjoint(lives[s.key]))
        and (not rule.working_hours_only or any(open_[z] for z in lives[s.key]))
    ]
    values = _values_today(session, config, defn, active, zones, sums or PersonSums())
    memo = memo if memo is not None else {}
    shares = {zone: work.day_fraction_elapsed(local) for zone, local in zones.items()}
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
            max(shares[z] for z in lives[subject.key]),
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


def _pace(
    config: OrgConfig,
    work: WorkCalendar,
    defn: MetricDef,
    subject: Subject,
    local: dt.datetime,
    memo: TargetMemo,
) -> float | None:
    """The subject's pace now: its people's paces, each for their own today in their own
    zone (`metrics.group_pace.today_pace`); for a person, theirs — the 10,000-subject case,
    so directly: their target shared per (team, role) and the pace per (target, zone)
    through `memo` (this rule, this instant)."""
    if subject.person is None or len(subject.members) != 1:
        return today_pace(config, work, defn, subject.members, now=local, memo=memo).pace
    day = local.date()  # `local` is the person's own zone
    target = person_target(config, work, defn, subject.members[0], day, day, memo)
    if target is None:
        return None
    key = ("person_pace", defn.name, target, subject.timezone, day)
    if key not in memo:
        memo[key] = expected_by(target, defn, work=work, start=day, end=day, local_now=local)
    return memo[key]


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
    day_share: float,
) -> Seen:
    v = rule.value if rule.value is not None else 0.0
    currency = config.currency.reporting
    if value is None:
        return Seen(subject, Observation(False, False, None), "no data")
    cond = rule.condition
    if cond == "coverage_below":
        return Seen(
            subject,
            Observation(value < v, value >= v * (1 + HYSTERESIS) + 1e-9, value),
            Said(wording.coverage_line, (value, v)),
        )
    if cond == "below":
        obs = Observation(value < v, value >= v * (1 + HYSTERESIS) + 1e-9, value)
        return Seen(subject, obs, Said(_limit_line, (value, defn, currency, cond, v)))
    if cond == "above":
        obs = Observation(value > v, value <= v * (1 - HYSTERESIS), value)
        return Seen(subject, obs, Said(_limit_line, (value, defn, currency, cond, v)))
    if cond == "no_activity_by":
        assert rule.by_time is not None
        due = local.time() >= rule.by_time
        return Seen(
            subject,
            Observation(due and value <= 0, (not due) or value > 0, value),
            wording.none_by_line(defn, rule.by_time),
        )
    if cond == "drop_vs_trailing_pct":
        return _drop(session, work, rule, defn, subject, local, value, currency)
    expected = _pace(config, work, defn, subject, local, memo)
    if cond == "below_pace_pct":
        if not expected:
            return Seen(subject, Observation(False, True, value), "nothing due yet")
        ratio = value / expected
        return Seen(
            subject,
            Observation(ratio < v, ratio >= v + HYSTERESIS, value),
            Said(wording.pace_line, (value, expected, defn, currency), f"alert below {v:.0%}"),
        )
    # turns_red: red breaches, only green clears (yellow is the hysteresis band); nobody is
    # judged before TURNS_RED_FROM of the day (a day's first calls are noise)
    if expected is None:
        return Seen(subject, Observation(False, False, value), "no target")
    if day_share < TURNS_RED_FROM:
        return Seen(subject, Observation(False, False, value), "too early in the day to judge")
    status = status_for(value, expected, config.org, higher_is_better=defn.higher_is_better)
    red_below = f"red below {config.org.status_yellow_at:.0%} of pace"
    return Seen(
        subject,
        Observation(status == "red", status == "green", value),
        Said(wording.pace_line, (value, expected, defn, currency), red_below),
    )


def _limit_line(value: float, defn: MetricDef, currency: str, cond: str, limit: float) -> str:
    """The detail of a `below` / `above` rule: the value and the limit it is held to."""
    amount = wording.amount(limit, defn, currency)
    return wording.value_line(value, defn, currency, alert=f"alert {cond} {amount}")


def _drop(
    session: Session,
    work: WorkCalendar,
    rule: AlertRuleConfig,
    defn: MetricDef,
    subject: Subject,
    local: dt.datetime,
    value: float,
    currency: str,
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
        return Seen(subject, Observation(False, True, value), "no baseline yet")
    return Seen(
        subject,
        Observation(value < expected * (1 - v), value >= expected * (1 - v + HYSTERESIS), value),
        wording.drop_line(value, expected, defn, currency, drop=v, days=rule.trailing_days),
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
