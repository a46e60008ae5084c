"""The team each person was on, day by day (`team_memberships`): what their targets follow.

A person's target for a day is the one of the team they were on that day, as the rollups
place their numbers (`metric_daily.team_key`) and a team's target counts who was on it
(`metrics.directory.team_days`). A day no membership covers is a day on no team (the role's
target); a person the table has no membership for at all is on their current team. Roles
have no history: the current role applies to every day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Date, bindparam, select
from sqlalchemy.orm import Session

from metrics.calendar import WorkCalendar
from metrics.catalog import MetricDef
from metrics.config import MetricsConfig
from metrics.group_values import plain
from metrics.models import Person, TeamMembership
from metrics.targets import TargetMemo, exact_member_targets, exact_person_target, group_of

TeamRun = tuple[str | None, dt.date, dt.date]  # (team or None, first, last day) inclusive


_M = TeamMembership
_START, _END = bindparam("start", type_=Date), bindparam("end", type_=Date)
_OVERLAPS = (_M.valid_from <= _END) & (_M.valid_to.is_(None) | (_M.valid_to > _START))
_COVERS = (_M.valid_from <= _START) & (_M.valid_to.is_(None) | (_M.valid_to > _END))
# The memberships that make a person's range differ from "on their current team
# throughout": those in the range but for one covering it on the current team, and a
# current one that begins after it (the range was then on no team).
_CHANGES = (
    select(_M.person_id, _M.team_key, _M.valid_from, _M.valid_to)
    .join(Person, Person.id == _M.person_id)
    .where(
        (_OVERLAPS & ~(_COVERS & Person.team_key.is_not(None) & (_M.team_key == Person.team_key)))
        | (_M.valid_to.is_(None) & (_M.valid_from > _END))
    )
)
_CHANGES_OF = _CHANGES.where(_M.person_id.in_(bindparam("ids", expanding=True)))
MANY = 1000  # more people than this: read everyone's changes, keep theirs


def team_runs(
    session: Session, person_ids: Iterable[int], start: dt.date, end: dt.date
) -> dict[int, list[TeamRun]]:
    """Per person id, for the people not on their current team throughout [start, end]
    (moved, joined or left in it, or on another team then): (team, first, last) runs
    covering [start, end] in order, one per membership and one of no team (None) for each
    gap. Everyone else is left out: on their current team every day (as is anyone the
    table has no membership for at all). An org of 10,000 with a few movers reads a few
    rows, not 10,000."""
    ids = set(person_ids)
    params: dict[str, Any] = {"start": start, "end": end}
    if len(ids) > MANY:
        rows = plain(session).execute(_CHANGES, params)
    else:
        rows = plain(session).execute(_CHANGES_OF, {**params, "ids": sorted(ids)})
    spans: dict[int, list[tuple[dt.date, dt.date | None, str]]] = {}
    for person_id, team, valid_from, valid_to in rows:
        if person_id in ids:
            spans.setdefault(person_id, []).append((valid_from, valid_to, team))
    return {p: _runs(sorted(found), start, end) for p, found in spans.items()}


def _runs(
    spans: Sequence[tuple[dt.date, dt.date | None, str]], start: dt.date, end: dt.date
) -> list[TeamRun]:
    runs: list[TeamRun] = []
    day = start  # the first day not yet in a run
    for valid_from, valid_to, team in spans:
        first = max(start, valid_from)
        last = end if valid_to is None else min(end, valid_to - dt.timedelta(days=1))
        if last < first:
            continue
        if first > day:
            runs.append((None, day, first - dt.timedelta(days=1)))
        runs.append((team, first, last))
        day = last + dt.timedelta(days=1)
    if day <= end:
        runs.append((None, day, end))
    return runs


class _OnTeam(NamedTuple):
    """A person as on one team (a run's): what `metrics.targets.person_target` reads."""

    email: str | None
    role: str | None
    team_key: str | None


def history_target(
    config: MetricsConfig,
    work: WorkCalendar,
    defn: MetricDef,
    people: Sequence[Any],
    runs: Mapping[int, Sequence[TeamRun]],
    start: dt.date,
    end: dt.date,
    memo: TargetMemo | None = None,
) -> float | None:
    """`metrics.targets.group_target` with each person's days under the team they were on
    that day: `runs` maps a person's `id` to the runs covering [start, end] (`team_runs`);
    a person without runs counts under their `team_key` (by (team, role), as `group_target`
    does). A person who moved adds the target of each run (a ratio: the last run's level);
    a personal target applies on every day. A ratio's group target is the first known of
    those without runs, then of those with."""
    memo = {} if memo is None else memo
    steady = [p for p in people if not runs.get(p.id)]
    known = exact_member_targets(config, work, defn, steady, start, end, memo)
    for p in people:
        pieces = runs.get(p.id)
        if not pieces:
            continue
        each = [
            exact_person_target(config, work, defn, _OnTeam(p.email, p.role, team), a, b, memo)
            for team, a, b in pieces
        ]
        found = [x for x in each if x is not None]
        if found and defn.additive:
            known.extend(found)  # added up with everyone's, once
        elif found:
            known.append(found[-1])
    return group_of(defn, known)


def members_target(
    session: Session,
    *,
    config: MetricsConfig,
    work: WorkCalendar,
    defn: MetricDef,
    people: Sequence[Any],
    start: dt.date,
    end: dt.date,
    memo: TargetMemo | None = None,
) -> float | None:
    """The target of `people` (anything with `id`, `email`, `role`, `team_key`: one person,
    or the org's reps) for [start, end], each day under the team each was on
    (`history_target` over `team_runs`)."""
    runs = team_runs(session, (p.id for p in people), start, end)
    return history_target(config, work, defn, people, runs, start, end, memo)
