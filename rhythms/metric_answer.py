"""Answering a metric question: resolve who it is about, check permission, compute, compose.

Shared by `/metric`, `drumbeat metric` and the App Home. Everything comes from rollups:
value (a team's: everyone on it that day, manager included; the org's: every row), the target
for the same days (its reps' targets summed for a team or the org), the pace due by now (a
person's in their zone; a team's or the org's each rep's in their own zone, summed:
`metrics.group_pace`), the status, the previous period of equal length, and a daily
sparkline of the same rows as the value. Data freshness is part of every answer ("no
activity synced yet", or a warning when the last successful sync is old). Pipeline
coverage is a snapshot: only known for a period that includes today, over the whole period.

The numbers come from `rhythms.metric_numbers` (one statement for both periods and the
series; one for freshness); `metric_value` serves what that does not (pipeline coverage,
spans over `MAX_SPAN_DAYS`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.catalog import PIPELINE_COVERAGE, MetricDef
from metrics.directory import person_timezone, team_days
from metrics.group_pace import group_pace
from metrics.lookup import (
    Period,
    Scope,
    TargetRun,
    catalog_for,
    metric_value,
    value_from_sums,
)
from metrics.memberships import history_target, team_runs
from metrics.models import Person, Team
from metrics.period_words import clip, resolve_period
from metrics.scoreboards import work_calendar
from metrics.targets import expected_by, status_for, team_target
from rhythms import metric_numbers
from rhythms.blocks import (
    chunk_lines,
    context,
    fields,
    fmt_number,
    header,
    section,
    sparkline,
    status_dot,
)
from rhythms.config import OrgConfig
from rhythms.default_subject import default_target
from rhythms.metric_query import MetricQuery, QueryError, Target
from rhythms.permissions import Decision, can_view_org, can_view_person, can_view_team
from rhythms.person_match import Known, find_person, visible_to

STALE_AFTER = dt.timedelta(hours=6)


class Refused(Exception):
    """The viewer may not see this; the message says why (and never the value)."""


@dataclass(frozen=True)
class Member:
    """What an answer needs of a member: the id, the rest for targets and pace."""

    id: int
    email: str
    role: str
    team_key: str | None
    timezone: str


@dataclass(frozen=True)
class Subject:
    scope: Scope
    name: str
    timezone: str
    members: tuple[Member, ...]


_MEMBERS = select(
    Person.id,
    Person.email,
    Person.role,
    Person.team_key,
    Person.timezone_override,
    Person.slack_timezone,
).where(Person.role == "rep", Person.active.is_(True))


def _member(row: Any, org_tz: str) -> Member:
    return Member(row.id, row.email, row.role, row.team_key, person_timezone(row, org_tz))


def _members(session: Session, org_tz: str, team: str | None = None) -> tuple[Member, ...]:
    """Active reps (of `team`), as plain values: an org of 10,000 would otherwise load as
    many ORM objects (~140 ms)."""
    query = _MEMBERS if team is None else _MEMBERS.where(Person.team_key == team)
    return tuple(_member(row, org_tz) for row in session.execute(query))


def _members_by_id(session: Session, ids: set[int], org_tz: str) -> tuple[Member, ...]:
    query = _MEMBERS.where(Person.id.in_(ids))
    return tuple(_member(row, org_tz) for row in session.execute(query))


@dataclass(frozen=True)
class Answer:
    metric: str
    label: str
    unit: str
    subject: str
    period_label: str
    start: dt.date
    end: dt.date
    timezone: str
    value: float | None
    target: float | None
    expected: float | None
    status: str
    previous: float | None
    daily: tuple[float, ...]
    last_sync: dt.datetime | None
    has_data: bool
    excluded: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "label": self.label,
            "unit": self.unit,
            "subject": self.subject,
            "period": self.period_label,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "timezone": self.timezone,
            "value": self.value,
            "target": self.target,
            "pace": self.expected,
            "status": self.status,
            "previous": self.previous,
            "last_sync": self.last_sync.isoformat() if self.last_sync else None,
            "excluded_records": self.excluded,
        }


UNKNOWN = "I don't know you yet: ask your RevOps admin to add you to Drumbeat."


def resolve_subject(
    session: Session,
    *,
    config: OrgConfig,
    viewer: Person | None,
    target: Target,
    trusted: bool = False,
) -> Subject:
    """The person/team/org a query is about, after the permission check.

    `trusted` skips the check (the admin CLI); otherwise an unknown viewer sees nothing.
    """
    org_tz = config.org.timezone
    if viewer is None and not trusted:
        raise Refused(UNKNOWN)
    if not trusted:  # no subject: what the viewer leads (rhythms.default_subject)
        target = default_target(target, viewer, config)
    if target.kind in ("self", "user", "name"):
        person = _person(session, viewer, target, config)
        if viewer is not None and not trusted:
            _check(can_view_person(viewer, person, config))
        zone = person_timezone(person, org_tz)
        member = Member(person.id, person.email, person.role, person.team_key, zone)
        return Subject(Scope.person(person.id), person.name, zone, (member,))
    if target.kind == "team":
        if viewer is not None and not trusted:
            _check(can_view_team(viewer, target.value, config))
        team = session.get(Team, target.value)
        if team is None:
            raise QueryError(f"There is no team `{target.value}`.")
        members = _members(session, org_tz, target.value)
        return Subject(Scope.team(target.value), team.name, org_tz, members)
    if viewer is not None and not trusted:
        _check(can_view_org(viewer, config))
    return Subject(Scope.org(), config.org.name, org_tz, _members(session, org_tz))


def _check(decision: Decision) -> None:
    if not decision.allowed:
        raise Refused(decision.reason)


def _person(
    session: Session, viewer: Person | None, target: Target, config: OrgConfig | None = None
) -> Person:
    """The person `target` names (`rhythms.person_match`: accents, first/last/full name,
    email; a question or suggestions among the people `viewer` may see under `config`)."""
    if target.kind == "self":
        if viewer is None:
            raise Refused(UNKNOWN)
        return viewer
    if target.kind == "user":
        found = session.scalars(select(Person).where(Person.slack_user_id == target.value)).first()
        if found is None:
            raise QueryError(f"<@{clip(target.value)}> is not in Drumbeat's directory.")
        return found
    # columns only: building 10,000 Person objects to pick one is most of a name lookup
    people = [
        Known(*row)
        for row in session.execute(
            select(Person.id, Person.email, Person.name).where(Person.active.is_(True))
        )
    ]
    match = find_person(target.value, people, may_see=visible_to(session, viewer, config))
    person = session.get(Person, match.id)
    if person is None:
        raise QueryError(f"I can't find anyone called `@{clip(target.value)}`.")
    return person


def freshness(session: Session) -> tuple[dt.datetime | None, bool]:
    """(last successful sync, whether any rollup exists), in one statement."""
    return metric_numbers.freshness(session)


Freshness = tuple[dt.datetime | None, bool]


def answer(
    session: Session,
    *,
    config: OrgConfig,
    query: MetricQuery,
    subject: Subject,
    now: dt.datetime,
    fresh: Freshness | None = None,
) -> Answer:
    """`fresh`: `freshness(session)` read by the caller (e.g. once for many answers)."""
    catalog = catalog_for(config)
    defn = catalog.get(query.metric)
    org_tz = config.org.timezone
    period = resolve_period(query.period, now=now, timezone=subject.timezone)
    local_now = now.astimezone(ZoneInfo(subject.timezone))
    t_start, t_end = target_range(period.label, period.start, period.end)
    if defn.special == PIPELINE_COVERAGE:
        value, excluded, previous, daily = _coverage(
            session, config, subject, period, (t_start, t_end), local_now.date()
        )
    else:
        value, excluded, previous, daily = _numbers(
            session, config, defn, subject, period.label, period.start, period.end, local_now.date()
        )
    work = work_calendar(config)
    runs: list[TargetRun] = []  # a team's or the org's: whose pace adds up, for which days
    if subject.scope.kind == "team":  # by who was on the team each day, as its numbers
        key = str(subject.scope.key)
        days = team_days(session, key, t_start, t_end)
        by_id = {m.id: m for m in _members_by_id(session, {p for p, _, _ in days}, org_tz)}
        pieces = [(by_id[p], first, last) for p, first, last in days if p in by_id]
        target = team_target(config, work, defn, key, pieces, t_start, t_end)
        runs = [TargetRun(m.email, m.role, key, m.timezone, a, b) for m, a, b in pieces]
    else:  # each member's days under the team they were on, as their numbers
        by_day = team_runs(session, [m.id for m in subject.members], t_start, t_end)
        target = history_target(config, work, defn, subject.members, by_day, t_start, t_end)
        if subject.scope.kind == "org":
            runs = [
                TargetRun(m.email, m.role, team, m.timezone, first, last)
                for m in subject.members
                for team, first, last in by_day.get(m.id, [(m.team_key, t_start, t_end)])
            ]
    if subject.scope.kind == "person":
        expected = expected_by(
            target, defn, work=work, start=t_start, end=t_end, local_now=local_now
        )
    else:  # each rep's pace in their own zone, summed (a team spans zones)
        expected = group_pace(config, work, defn, runs, now=now).pace
    status = (
        "none"
        if value is None
        else status_for(value, expected, config.org, higher_is_better=defn.higher_is_better)
    )
    last_sync, has_data = fresh if fresh is not None else freshness(session)
    whole = defn.special == PIPELINE_COVERAGE  # of the whole period, not to date
    return Answer(
        defn.name,
        defn.label,
        defn.unit,
        subject.name,
        period.label,
        t_start if whole else period.start,
        t_end if whole else period.end,
        subject.timezone,
        value,
        target,
        expected,
        status,
        previous,
        daily,
        last_sync,
        has_data,
        excluded,
    )


def _numbers(
    session: Session,
    config: OrgConfig,
    defn: MetricDef,
    subject: Subject,
    label: str,
    start: dt.date,
    end: dt.date,
    today: dt.date,
) -> tuple[float | None, int, float | None, tuple[float, ...]]:
    """(value, records excluded, previous period's value, daily series). The series sums
    the same rows as the value (a team's: everyone on it each day; the org's: every row),
    so its days add up to the value."""
    before = previous_range(label, start, end)
    # A series spans under 62 days, so with its comparison period it always `fits`.
    wants_series = defn.additive and bool(subject.members) and (end - start).days < 62
    if metric_numbers.fits(start, end, before):
        numbers = metric_numbers.period_numbers(
            session,
            defn=defn,
            scope=subject.scope,
            start=start,
            end=end,
            previous=before,
            series_end=min(end, today) if wants_series else None,
        )
        value = value_from_sums(defn, numbers.current)[0]
        excluded = int(numbers.current.get(defn.excluded_base, 0.0)) if defn.excluded_base else 0
        previous = value_from_sums(defn, numbers.previous)[0]
        return value, excluded, previous, numbers.daily or ()
    scope = subject.scope
    now_v = metric_value(
        session, config=config, metric=defn.name, scope=scope, start=start, end=end
    )
    then = metric_value(
        session, config=config, metric=defn.name, scope=scope, start=before[0], end=before[1]
    )
    return now_v.value, now_v.excluded, then.value, ()


def _coverage(
    session: Session,
    config: OrgConfig,
    subject: Subject,
    period: Period,
    whole: tuple[dt.date, dt.date],
    today: dt.date,
) -> tuple[float | None, int, float | None, tuple[float, ...]]:
    """Pipeline coverage: open pipeline now ÷ what remains of the whole period's bookings
    target (`whole`: this month, not month to date). Open pipeline is only known now, so a
    period that does not include today has no coverage; nor a comparison or a series."""
    start, end = whole
    if not start <= today <= end:
        raise QueryError(
            f"Pipeline coverage is today's open pipeline ÷ what is left of a period's bookings "
            f"target, so it is only known for now, not for {period.label}: try "
            "`coverage this month` or `coverage this quarter`."
        )
    got = metric_value(
        session, config=config, metric=PIPELINE_COVERAGE, scope=subject.scope, start=start, end=end
    )
    return got.value, got.excluded, None, ()


def target_range(label: str, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """A to-date period ("this week") is judged against the whole period's target, with
    the pace saying how much of it is due by now; other periods against their own days."""
    if label in ("this week", "wtd"):
        return start, start + dt.timedelta(days=6)
    if label in ("this month", "mtd"):
        next_month = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return start, next_month - dt.timedelta(days=1)
    if label == "this quarter":
        quarter_end_month = start.month + 2
        next_start = dt.date(start.year + (quarter_end_month == 12), quarter_end_month % 12 + 1, 1)
        return start, next_start - dt.timedelta(days=1)
    return start, end


def previous_range(label: str, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The period to compare with: the same days of the previous week/month for a to-date
    period ("this week" on Wednesday → last Monday–Wednesday), else the equal span before."""
    if label in ("this week", "wtd"):
        return start - dt.timedelta(days=7), end - dt.timedelta(days=7)
    if label in ("this month", "mtd", "this quarter"):
        months = 3 if label == "this quarter" else 1
        first = start
        for _ in range(months):
            first = (first - dt.timedelta(days=1)).replace(day=1)
        days = (end - start).days
        return first, first + dt.timedelta(days=days)
    length = (end - start).days + 1
    return start - dt.timedelta(days=length), start - dt.timedelta(days=1)


def _change(current: float | None, previous: float | None) -> str:
    if current is None or previous is None:
        return "no comparison"
    if previous == 0:
        return "▲ up from 0 in the previous period" if current else "0 in both periods"
    pct = (current - previous) / abs(previous) * 100
    arrow = "▲" if pct > 0 else "▼" if pct < 0 else "▶"
    return f"{arrow} {pct:+.0f}% vs previous period"


def _shown(value: float, unit: str, currency: str) -> str:
    """`fmt_number`, with a ratio as times (pipeline coverage 4.4×, as the control tower)."""
    return f"{value:.1f}×" if unit == "ratio" else fmt_number(value, unit, currency)


def answer_blocks(
    a: Answer, *, currency: str, now: dt.datetime, compare: bool = True
) -> tuple[str, list[dict[str, Any]]]:
    coverage = a.metric == PIPELINE_COVERAGE
    value = ("n/a" if coverage else "–") if a.value is None else _shown(a.value, a.unit, currency)
    title = f"{a.label} · {a.subject} · {a.period_label}"
    items = [f"*Value*\n{value}"]
    if a.target is not None:
        items.append(f"*Target*\n{_shown(a.target, a.unit, currency)}")
    if a.expected is not None:
        items.append(f"*Pace now*\n{_shown(a.expected, a.unit, currency)}")
    if a.status != "none":
        items.append(f"*Status*\n{status_dot(a.status)} {a.status}")
    blocks: list[dict[str, Any]] = [header(title), fields(items)]
    this_year = now.astimezone(ZoneInfo(a.timezone)).year
    notes = [f"{_days_span(a.start, a.end, this_year)} ({a.timezone})"]
    if coverage:
        notes.append(
            "open pipeline now ÷ what is left of these days' bookings target"
            + (" — nothing left (no bookings target, or it is made)" if a.value is None else "")
        )
    elif compare:
        notes.append(_change(a.value, a.previous))
    if a.daily:
        notes.append(f"`{sparkline(a.daily)}`")
    if a.excluded:
        notes.append(f"{a.excluded} record(s) left out (no amount or currency rate)")
    blocks.append(context(" · ".join(notes)))
    warning = data_warning(a.last_sync, a.has_data, now)
    if warning:
        blocks.append(section(warning))
    text = f"{title}: {value}" + (
        f" of {_shown(a.target, a.unit, currency)}" if a.target is not None else ""
    )
    return text, blocks


def _days_span(start: dt.date, end: dt.date, this_year: int) -> str:
    """The days as "Nov 1–Nov 25" within `this_year`, "Nov 1–Nov 25, 2025" within another
    year, "Dec 1, 2025–Jan 5, 2026" across years: a date without its year is ambiguous."""
    if start.year != end.year:
        return f"{start:%b %-d}, {start.year}–{end:%b %-d}, {end.year}"
    span = f"{start:%b %-d}–{end:%b %-d}"
    return span if start.year == this_year else f"{span}, {start.year}"


def data_warning(last_sync: dt.datetime | None, has_data: bool, now: dt.datetime) -> str | None:
    if not has_data:
        return "ℹ️ No activity synced yet: numbers appear after the first `drumbeat sync`."
    if last_sync is None:
        return None
    age = now - last_sync
    if age > STALE_AFTER:
        hours = age.total_seconds() / 3600
        when = f"{hours:.0f} hours" if hours < 48 else f"{hours / 24:.0f} days"
        return f"⚠️ Data may be stale: the last successful CRM sync was {when} ago."
    return None


def catalog_blocks(config: OrgConfig) -> tuple[str, list[dict[str, Any]]]:
    """`/metric list`: every metric with kind, unit and definition."""
    lines = [
        f"`{d.name}` · {d.label} ({d.kind}, {d.unit}) — {d.description}"
        for d in catalog_for(config).metrics.values()
    ]
    blocks = [header("Metrics"), *[section(chunk) for chunk in chunk_lines(lines)][:48]]
    return "Metrics: " + ", ".join(catalog_for(config).metrics), blocks
