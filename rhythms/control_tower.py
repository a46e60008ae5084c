"""The CRO's control tower: team inputs and outputs vs target, velocity and its levers,
what changed since yesterday, coaching flags, and the one or two things needing attention.

`control_tower(session, config=..., day=..., now=...)` computes a `Tower` (numbers only);
`tower_message(tower)` composes Block Kit; `tower_chart(tower, org)` renders team inputs vs pace.
Everything comes from the metrics engine; no number is computed here that it does not own,
except the lever decomposition, which splits velocity's log change into its four factors:
ln(V₂/V₁) = ln(O₂/O₁) + ln(W₂/W₁) + ln(S₂/S₁) − ln(C₂/C₁) — and names the factor that moved it
most *in the direction it went* (`main_lever`) — and a team's share of input pace: the mean
over its inputs with a target of value ÷ pace, each capped at 2× (as the scoreboard's team
rank), so calls, emails and pipeline dollars weigh alike instead of dollars swamping counts.

A team's numbers are as `/metric` gives them: its value counts everyone on it that day
(manager included), its target its reps' for the days each was on it
(`metrics.lookup.target_runs`), its pace each rep's in their own zone
(`metrics.group_pace`); coverage is open pipeline now over what is left of the current
month's bookings target (`pipeline_coverage`).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from metrics.batch import values_by_person
from metrics.group_pace import group_pace
from metrics.lookup import (
    Scope,
    catalog_for,
    metric_value,
    runs_target,
    target_people,
    target_runs,
)
from metrics.scoreboards import work_calendar
from metrics.targets import TargetMemo, person_target, status_for
from metrics.velocity import Velocity, revenue_velocity
from rhythms.config import OrgConfig

LEVERS = ("more opportunities", "win rate", "deal size", "cycle length")
ACTIVITY_INPUTS = ("calls", "emails")


@dataclass(frozen=True)
class TeamLine:
    team_key: str
    team_name: str
    inputs: tuple[tuple[str, float, float | None, str, str], ...]  # label, value, pace,
    # status, unit
    input_share: float | None  # mean of value ÷ pace (each capped at 2×) over paced inputs
    bookings_mtd: float
    bookings_target: float | None  # the month of the tower's day
    coverage: float | None  # now, of the current month (`Tower.coverage_month`)
    velocity: Velocity
    velocity_before: Velocity
    lever: str | None  # the factor that moved velocity most its way, week over week
    lever_change: float | None  # that factor's log contribution (same sign as the change)
    calls_yesterday: float
    calls_day_before: float
    coverage_target: float | None = None  # the current month's bookings target


@dataclass(frozen=True)
class Flag:
    person: str
    team_name: str
    kind: str  # "not enough activity" | "busy but not converting"
    detail: str


@dataclass(frozen=True)
class Tower:
    day: dt.date
    teams: tuple[TeamLine, ...]
    flags: tuple[Flag, ...]
    attention: tuple[str, ...]
    org_velocity: Velocity
    org_velocity_before: Velocity
    currency: str
    notes: tuple[str, ...] = field(default=())
    coverage_month: dt.date | None = None  # first day of coverage's month: now's, not `day`'s


def lever_split(before: Velocity, after: Velocity) -> dict[str, float] | None:
    """Log contribution of each factor to the change of velocity (None if incomplete)."""
    parts = [
        (before.open_opportunities, after.open_opportunities),
        (before.win_rate, after.win_rate),
        (before.avg_deal_size, after.avg_deal_size),
        (before.cycle_days, after.cycle_days),
    ]
    if any(not a or not b for a, b in parts):
        return None
    logs = [math.log(b / a) for a, b in parts]  # type: ignore[operator]
    logs[3] = -logs[3]  # a longer cycle slows velocity
    return dict(zip(LEVERS, logs, strict=True))


def main_lever(split: dict[str, float] | None) -> tuple[str, float] | None:
    """The factor behind velocity's move, in its direction: when it fell, the most negative
    contribution; when it rose, the most positive; None when it did not move (or unknown)."""
    if not split:
        return None
    total = sum(split.values())
    if total < 0:
        name = min(split, key=lambda k: split[k])
    elif total > 0:
        name = max(split, key=lambda k: split[k])
    else:
        return None
    return name, split[name]


def control_tower(session: Session, *, config: OrgConfig, day: dt.date, now: dt.datetime) -> Tower:
    """The tower for the working day `day` (yesterday's full numbers on a morning run);
    coverage as of `now`, for the month it falls in."""
    work = work_calendar(config)
    catalog = catalog_for(config)
    org_tz = config.org.timezone
    local_now = now.astimezone(ZoneInfo(org_tz))
    month_start = day.replace(day=1)
    cover_start = local_now.date().replace(day=1)
    memo: TargetMemo = {}
    week_end, week_start = day, day - dt.timedelta(days=6)
    prev_end, prev_start = week_start - dt.timedelta(days=1), week_start - dt.timedelta(days=7)
    before_day = work.previous_working_day(day)
    input_defs = [d for d in catalog.metrics.values() if d.kind == "input" and d.additive]
    lines = []
    bookings = catalog.get("bookings")
    for team in config.teams:
        scope = Scope.team(team.key)
        runs = target_runs(session, scope, day, day, org_timezone=org_tz)
        inputs = []
        shares: list[float] = []
        for defn in input_defs:
            target, pace = group_pace(config, work, defn, runs, now=now, memo=memo)
            if target is None:
                continue
            value = (
                metric_value(
                    session, config=config, metric=defn.name, scope=scope, start=day, end=day
                ).value
                or 0.0
            )
            status = status_for(value, pace, config.org)
            inputs.append((defn.label, value, pace, status, defn.unit))
            if pace:
                shares.append(min(value / pace, 2.0))
        month = target_runs(
            session, scope, month_start, _month_end(month_start), org_timezone=org_tz
        )
        bookings_target = runs_target(config, work, bookings, month, memo)
        cover_target = bookings_target
        if cover_start != month_start:  # the tower of last month's last day
            current = target_runs(
                session, scope, cover_start, _month_end(cover_start), org_timezone=org_tz
            )
            cover_target = runs_target(config, work, bookings, current, memo)
        now_v = revenue_velocity(
            session, config=config, scope=scope, start=week_start, end=week_end
        )
        before_v = revenue_velocity(
            session, config=config, scope=scope, start=prev_start, end=prev_end
        )
        lever = main_lever(lever_split(before_v, now_v))
        calls = catalog.metrics.get("calls")
        lines.append(
            TeamLine(
                team.key,
                team.name,
                tuple(inputs),
                sum(shares) / len(shares) if shares else None,
                metric_value(
                    session,
                    config=config,
                    metric="bookings",
                    scope=scope,
                    start=month_start,
                    end=day,
                ).value
                or 0.0,
                bookings_target,
                metric_value(
                    session,
                    config=config,
                    metric="pipeline_coverage",
                    scope=scope,
                    start=cover_start,
                    end=_month_end(cover_start),
                ).value,
                now_v,
                before_v,
                lever[0] if lever else None,
                lever[1] if lever else None,
                _value(session, config, "calls", scope, day) if calls else 0.0,
                _value(session, config, "calls", scope, before_day) if calls else 0.0,
                cover_target,
            )
        )
    flags = coaching_flags(session, config=config, start=week_start, end=week_end)
    org_now = revenue_velocity(
        session, config=config, scope=Scope.org(), start=week_start, end=week_end
    )
    org_before = revenue_velocity(
        session, config=config, scope=Scope.org(), start=prev_start, end=prev_end
    )
    return Tower(
        day,
        tuple(lines),
        tuple(flags),
        tuple(attention(lines, flags)),
        org_now,
        org_before,
        config.currency.reporting,
        coverage_month=cover_start,
    )


def _value(session: Session, config: OrgConfig, metric: str, scope: Scope, day: dt.date) -> float:
    return (
        metric_value(session, config=config, metric=metric, scope=scope, start=day, end=day).value
        or 0.0
    )


def _month_end(first: dt.date) -> dt.date:
    return (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def coaching_flags(
    session: Session, *, config: OrgConfig, start: dt.date, end: dt.date
) -> list[Flag]:
    """Per rep over [start, end]: activity below 80% of target ("not enough activity") vs
    activity on target but meetings per activity under half the team's ("busy but not
    converting")."""
    work = work_calendar(config)
    catalog = catalog_for(config)
    people = target_people(session, Scope.org())
    if not people:
        return []
    ids = [p.id for p in people]
    memo: TargetMemo = {}  # one target per (team, role), personal ones per person
    activity = {pid: 0.0 for pid in ids}
    activity_target: dict[int, float] = {pid: 0.0 for pid in ids}
    for name in ACTIVITY_INPUTS:
        if name not in catalog.metrics:
            continue
        defn = catalog.get(name)
        for pid, value in values_by_person(
            session, defn=defn, person_ids=ids, start=start, end=end
        ).items():
            activity[pid] += value or 0.0
        for p in people:
            activity_target[p.id] += person_target(config, work, defn, p, start, end, memo) or 0.0
    meetings = values_by_person(
        session, defn=catalog.get("meetings_booked"), person_ids=ids, start=start, end=end
    )
    teams = {t.key: t.name for t in config.teams}
    by_team: dict[str, list[float]] = {}
    for p in people:
        if activity[p.id] > 0:
            by_team.setdefault(p.team_key or "", []).append((meetings[p.id] or 0) / activity[p.id])
    flags = []
    for p in sorted(people, key=lambda p: p.name):
        target = activity_target[p.id]
        team_name = teams.get(p.team_key or "", "No team")
        if target and activity[p.id] < 0.8 * target:
            flags.append(
                Flag(
                    p.name,
                    team_name,
                    "not enough activity",
                    f"{activity[p.id]:.0f} of {target:.0f} calls + emails",
                )
            )
            continue
        rates = by_team.get(p.team_key or "", [])
        team_rate = sum(rates) / len(rates) if rates else 0.0
        rate = (meetings[p.id] or 0) / activity[p.id] if activity[p.id] else 0.0
        if target and team_rate > 0 and rate < 0.5 * team_rate:
            flags.append(
                Flag(
                    p.name,
                    team_name,
                    "busy but not converting",
                    f"{rate:.1%} meetings per activity vs team {team_rate:.1%}",
                )
            )
    return flags


def attention(lines: list[TeamLine], flags: list[Flag]) -> list[str]:
    """At most two things: the lagging team, and the biggest drag on velocity."""
    out = []
    paced = [ln for ln in lines if ln.input_share is not None]
    if paced:
        worst = min(paced, key=lambda ln: ln.input_share or 0.0)
        if (worst.input_share or 0) < 0.8:
            out.append(
                f"*{worst.team_name}* is at {worst.input_share:.0%} of input pace "
                f"— the team most behind."
            )
    drags = [ln for ln in lines if ln.lever_change is not None and ln.lever_change < -0.05]
    if drags:
        worst_v = min(drags, key=lambda ln: ln.lever_change or 0.0)
        out.append(
            f"*{worst_v.team_name}* velocity fell mostly on *{worst_v.lever}* "
            f"({(math.exp(worst_v.lever_change or 0) - 1):+.0%} week over week)."
        )
    if len(out) < 2:
        idle = [f for f in flags if f.kind == "not enough activity"]
        if idle:
            out.append(
                f"{len(idle)} rep(s) short on activity this week: "
                + ", ".join(f.person for f in idle[:5])
                + "."
            )
    return out[:2]
