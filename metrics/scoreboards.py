"""Daily scoreboards for people and teams, from rollups only.

`person_scoreboard` and `team_scoreboards` read `metric_daily` (batched for all the people
concerned, never raw activities; how: `metrics.scoreboard_rows`) and fill
`metrics.scoreboard.PersonScoreboard`: the input metrics with a daily target for that person,
in catalog (config) order, each with the day's value, target, pace at `as_of` in the person's
zone (for count metrics the whole number due: `metrics.targets.whole_due`), status, shortfall
and 7-day history; the streak of working days at or above every daily target — each day's
those of the team the person was on that day (`metrics.memberships.team_runs`: a rep who
moved from a team with higher targets is not credited with the days they missed); the rank
in the team by share of pace (mean over metrics of value ÷ pace, each capped at 2×) among the
teammates with something due — one whose local working day has not started yet (another zone,
or before 09:00) has no pace to be measured against, so is neither ranked nor counted.
A daily target of 0 is no target: the metric is shown without one (status "none"), out of the
verdict, the rank and the streak.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from metrics.calendar import WorkCalendar
from metrics.catalog import MetricDef
from metrics.config import MetricsConfig
from metrics.directory import person_timezone
from metrics.lookup import catalog_for
from metrics.memberships import TeamRun, team_runs
from metrics.models import Person
from metrics.scoreboard import MetricStatus, PersonScoreboard
from metrics.scoreboard_rows import (
    DaySums,
    Picked,
    Row,
    ValueOf,
    Who,
    daily_targets,
    read_sums,
    team_reps,
)
from metrics.targets import resolve_target, shortfall, status_for, whole_due

HISTORY_DAYS = 7
STREAK_LOOKBACK_DAYS = 92
RECENT_DAYS = 21  # read first; older rows only for the people whose streak goes back further
_CALENDARS: dict[int, tuple[MetricsConfig, WorkCalendar]] = {}
_T = TypeVar("_T")


def work_calendar(config: MetricsConfig) -> WorkCalendar:
    """The WorkCalendar of a config object, built once (holiday tables are not free)."""
    cached = _CALENDARS.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    work = WorkCalendar(config.calendar)
    if len(_CALENDARS) > 32:
        _CALENDARS.clear()
    _CALENDARS[id(config)] = (config, work)
    return work


def person_scoreboard(
    session: Session, *, config: MetricsConfig, person_id: int, day: dt.date, as_of: dt.datetime
) -> PersonScoreboard:
    """One person's scoreboard for local `day`, paced at `as_of` (aware)."""
    person = session.get(Person, person_id)
    if person is None:
        raise LookupError(f"no person with id {person_id}")
    draft = _drafts(session, config, [person], day, as_of)[0]
    if person.team_key is None or person.role != "rep" or not person.active:
        return draft.board()
    if draft.share is None:  # nothing due yet: no rank to give
        return draft.board()
    # Rank among the team from the day's values only (one small query, no history).
    reps = team_reps(session, person.team_key)
    team = _drafts(session, config, reps, day, as_of, history=False)
    others = [d for d in team if d.person.id != person_id and d.share is not None]
    mine = (-draft.share, person.name)
    rank = 1 + sum(1 for d in others if (-(d.share or 0.0), d.person.name) < mine)
    return draft.board(rank, len(others) + 1)


def team_scoreboards(
    session: Session, *, config: MetricsConfig, team_key: str, day: dt.date, as_of: dt.datetime
) -> list[PersonScoreboard]:
    """Scoreboards of the team's active reps, best first by share of pace, ranked; then, by
    name and without a rank, those with nothing due yet."""
    drafts = _drafts(session, config, team_reps(session, team_key), day, as_of)
    ranked = sorted(
        (d for d in drafts if d.share is not None), key=lambda d: (-(d.share or 0.0), d.person.name)
    )
    waiting = sorted((d for d in drafts if d.share is None), key=lambda d: d.person.name)
    boards = [d.board(rank, len(ranked)) for rank, d in enumerate(ranked, start=1)]
    return boards + [d.board() for d in waiting]


def _share(metrics: Sequence[MetricStatus]) -> float | None:
    """Mean over metrics of value ÷ pace, each capped at 2×, over the metrics with something
    due; None when nothing is due yet (the rep's working day has not started, a day off, no
    target): such a rep is not ranked."""
    shares = [
        min(m.value / m.expected_now, 2.0)
        for m in metrics
        if m.expected_now is not None and m.expected_now > 0
    ]
    return sum(shares) / len(shares) if shares else None


class _Draft:
    """A board before its rank is known."""

    __slots__ = ("ctx", "metrics", "person", "share", "streak", "zone")

    def __init__(
        self, ctx: _Context, person: Who, zone: str, metrics: tuple[MetricStatus, ...], streak: int
    ) -> None:
        self.ctx, self.person, self.zone, self.metrics, self.streak = (
            ctx,
            person,
            zone,
            metrics,
            streak,
        )
        self.share = _share(metrics)

    def board(self, rank: int | None = None, size: int = 0) -> PersonScoreboard:
        ctx, person = self.ctx, self.person
        away = ("Out of office",) if _out_of_office(person, ctx.day) else ()
        return PersonScoreboard(
            person_id=person.id,
            name=person.name,
            email=person.email,
            slack_user_id=person.slack_user_id,
            team_key=person.team_key,
            timezone=self.zone,
            day=ctx.day,
            as_of=ctx.as_of_utc,
            metrics=self.metrics,
            streak_days=self.streak,
            team_rank=rank,
            team_size=size,
            notes=ctx.day_notes + away,
        )


def _drafts(
    session: Session,
    config: MetricsConfig,
    people: Sequence[Who],
    day: dt.date,
    as_of: dt.datetime,
    *,
    history: bool = True,
) -> list[_Draft]:
    """Boards for `people` from one batched rollup query (the day only without history:
    enough to rank, no sparkline or streak)."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    catalog = catalog_for(config)
    inputs = [d for d in catalog.metrics.values() if d.kind == "input" and d.special is None]
    chosen = daily_targets(config, inputs, people)
    oldest = day - dt.timedelta(days=STREAK_LOOKBACK_DAYS) if history else day
    moved = _moved(config, inputs, people, team_runs(session, [p.id for p in people], oldest, day))
    for pid, pieces in moved.items():  # the targets of the day's team
        chosen[pid] = _picked_on(pieces, day) or []
    distinct = {id(picked): picked for picked in chosen.values()}.values()
    bases = {b for picked in distinct for defn, _ in picked for b in defn.bases}
    bases |= {b for p in moved.values() for _, _, x in p for defn, _ in x for b in defn.bases}
    first = max(oldest, day - dt.timedelta(days=max(RECENT_DAYS, HISTORY_DAYS) - 1))
    sums = read_sums(session, [p.id for p in people], sorted(bases), first, day)
    ctx = _Context(config, work_calendar(config), day, as_of, history, inputs, sums)
    ctx.partial_before = first if oldest < first else None
    ctx.moved = {
        pid: [(a, b, _checks(ctx, picked)) for a, b, picked in pieces]
        for pid, pieces in moved.items()
    }
    drafts = [_draft(ctx, person, chosen[person.id]) for person in people]
    longer = [d for d in drafts if d.streak < 0]
    if longer:  # streaks that reach past the recent rows: the rest of the lookback for them
        ids = [d.person.id for d in longer]
        older = read_sums(session, ids, sums.names, oldest, first - dt.timedelta(days=1))
        sums.rows.update(older.rows)
        ctx.partial_before = None
        for d in longer:
            pid = d.person.id
            day_row = sums.rows.get((pid, day), sums.empty)
            d.streak = _streak(ctx, d.person, chosen[pid], day_row)
    return drafts


Pieces = list[tuple[dt.date, dt.date, Picked]]  # (first, last, daily targets), newest first
Checks = list[tuple[int | None, ValueOf, float]]  # (column, reader, daily target above 0)


def _moved(
    config: MetricsConfig,
    inputs: Sequence[MetricDef],
    people: Sequence[Who],
    runs: dict[int, list[TeamRun]],
) -> dict[int, Pieces]:
    """The daily targets by team run of the people who were not on their current team
    throughout the runs' days (moved, or joined a team in them): newest run first."""
    moved: dict[int, Pieces] = {}
    for person in people:
        pieces = runs.get(person.id)
        if not pieces or (len(pieces) == 1 and pieces[0][0] == person.team_key):
            continue
        by_team: dict[str | None, Picked] = {}
        for team, _, _ in pieces:
            if team not in by_team:
                by_team[team] = [
                    (defn, target)
                    for defn in inputs
                    if (
                        target := resolve_target(
                            config,
                            defn.name,
                            "daily",
                            email=person.email,
                            role=person.role,
                            team=team,
                        )
                    )
                    is not None
                ]
        moved[person.id] = [(a, b, by_team[team]) for team, a, b in reversed(pieces)]
    return moved


def _picked_on(pieces: list[tuple[dt.date, dt.date, _T]], day: dt.date) -> _T | None:
    """What the piece covering `day` holds (None: no piece does)."""
    for first, last, picked in pieces:
        if first <= day <= last:
            return picked
    return None


class _Context:
    """What every board of one call shares: the calendar around `day`, pace per zone, the
    rollup rows and their value readers."""

    def __init__(
        self,
        config: MetricsConfig,
        work: WorkCalendar,
        day: dt.date,
        as_of: dt.datetime,
        history: bool,
        inputs: Sequence[MetricDef],
        sums: DaySums,
    ) -> None:
        self.config, self.work, self.day, self.as_of = config, work, day, as_of
        self.history, self.sums = history, sums
        self.as_of_utc = as_of.astimezone(dt.UTC)
        self.working = work.is_working_day(day)
        self.window = [day - dt.timedelta(days=back) for back in range(HISTORY_DAYS - 1, -1, -1)]
        back_days = (day - dt.timedelta(days=back) for back in range(1, STREAK_LOOKBACK_DAYS + 1))
        self.past = [(past, work.is_working_day(past)) for past in back_days]
        holiday = work.holiday_name(day)
        if holiday:
            self.day_notes: tuple[str, ...] = (f"Holiday: {holiday}",)
        elif not self.working:
            self.day_notes = ("Not a working day",)
        else:
            self.day_notes = ()
        read = set(sums.names)  # the bases of every metric with a target for someone here
        self.read = {d.name: sums.reader(d) for d in inputs if set(d.bases) <= read}
        self.column = {d.name: i for d in inputs if (i := sums.column(d)) is not None}
        self._fractions: dict[str, float] = {}
        self.partial_before: dt.date | None = None  # no rows read before this day yet
        self.moved: dict[int, list[tuple[dt.date, dt.date, Checks]]] = {}  # by team run

    def fraction(self, zone: str) -> float:
        """The share of `day` due at `as_of` in `zone` (1 for a past day, 0 for a future one)."""
        found = self._fractions.get(zone)
        if found is None:
            local_now = self.as_of.astimezone(ZoneInfo(zone))
            if self.day < local_now.date():
                found = 1.0
            elif self.day > local_now.date():
                found = 0.0
            else:
                found = self.work.day_fraction_elapsed(local_now)
            self._fractions[zone] = found
        return found


def _draft(ctx: _Context, person: Who, metrics: Picked) -> _Draft:
    zone = person_timezone(person, ctx.config.org.timezone)
    fraction = ctx.fraction(zone)
    org = ctx.config.org
    pid = person.id
    get, empty = ctx.sums.rows.get, ctx.sums.empty
    day_row = get((pid, ctx.day), empty)
    window = [get((pid, d), empty) for d in ctx.window] if ctx.history else []
    statuses: list[MetricStatus] = []
    for defn, daily in metrics:
        read = ctx.read[defn.name]
        column = ctx.column.get(defn.name)
        if ctx.history:
            if column is not None:
                history = tuple([row[column] for row in window])
            else:
                history = tuple([read(row) for row in window])
            value = history[-1]
        else:
            value = read(day_row)
            history = (0.0,) * (HISTORY_DAYS - 1) + (value,)
        if daily <= 0:  # a daily target of 0 is no target: shown, not graded
            target: float | None = None
            expected: float | None = None
        else:
            target = daily if ctx.working or not defn.additive else 0.0
            expected = whole_due(target * fraction if defn.additive else target, defn)
        better = defn.higher_is_better
        statuses.append(
            MetricStatus(
                metric=defn.name,
                label=defn.label,
                unit=defn.unit,
                kind=defn.kind,
                value=value,
                target=target,
                expected_now=expected,
                status=status_for(value, expected, org, higher_is_better=better),
                shortfall=shortfall(value, expected, higher_is_better=better),
                history=history,
            )
        )
    return _Draft(ctx, person, zone, tuple(statuses), _streak(ctx, person, metrics, day_row))


def _out_of_office(person: Who, day: dt.date) -> bool:
    start, until = person.out_of_office_from, person.out_of_office_until
    return start is not None and start <= day and (until is None or day <= until)


def _checks(ctx: _Context, metrics: Picked) -> Checks:
    """What a day must meet: each metric's column or reader and its daily target above 0."""
    return [
        (ctx.column.get(d.name), ctx.read[d.name], target) for d, target in metrics if target > 0
    ]


def _streak(ctx: _Context, person: Who, metrics: Picked, day_row: Row) -> int:
    """Working days in a row at or above every daily target: completed days before `day`,
    plus `day` itself once it is already met. Non-working and out-of-office days are skipped.
    Each day is held to the targets of the team the person was on that day; a day without
    any ends the streak. -1: not known from the rows read so far (it reaches
    `ctx.partial_before`). Targets of 0 are no targets: without any other, there is no
    streak."""
    checks = _checks(ctx, metrics)
    if not checks:
        return 0
    streak = 1 if ctx.working and _met(day_row, checks) else 0
    away = person.out_of_office_from is not None
    pid = person.id
    pieces = ctx.moved.get(pid)
    get, empty = ctx.sums.rows.get, ctx.sums.empty
    partial = ctx.partial_before
    for past, working in ctx.past:
        if not working or (away and _out_of_office(person, past)):
            continue
        if partial is not None and past < partial:
            return -1
        on = checks if pieces is None else _picked_on(pieces, past)
        if not on or not _met(get((pid, past), empty), on):
            break
        streak += 1
    return streak


def _met(row: Row, checks: Checks) -> bool:
    """Every metric of `checks` (column or reader, daily target) at or above its target."""
    for column, read, target in checks:
        value = row[column] if column is not None else read(row)
        if not value >= target:
            return False
    return True
