"""Daily scoreboards for people and teams, from rollups only.

`person_scoreboard` and `team_scoreboards` read `metric_daily` (one batched query for all the
people concerned, never raw activities) and fill `metrics.scoreboard.PersonScoreboard`: the
input metrics with a daily target for that person, in catalog (config) order, each with the
day's value, target, pace at `as_of` in the person's zone, status, shortfall and 7-day history;
the streak of working days at or above every daily target; the rank in the team by share of
pace (mean over metrics of value ÷ pace, each capped at 2×; before the working day starts,
value ÷ target).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.calendar import WorkCalendar
from metrics.catalog import MetricDef
from metrics.config import MetricsConfig
from metrics.directory import person_timezone
from metrics.lookup import catalog_for, value_from_sums
from metrics.models import MetricDaily, Person
from metrics.scoreboard import MetricStatus, PersonScoreboard
from metrics.targets import resolve_target, shortfall, status_for

HISTORY_DAYS = 7
STREAK_LOOKBACK_DAYS = 92
_CALENDARS: dict[int, tuple[MetricsConfig, WorkCalendar]] = {}


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
    board = _boards(session, config, [person], day, as_of)[0]
    if person.team_key is None or person.role != "rep" or not person.active:
        return board
    # Rank among the team from the day's values only (one small query, no history).
    team = _boards(session, config, _reps(session, person.team_key), day, as_of, history=False)
    others = [b for b in team if b.person_id != person_id]
    mine = _rank_share(board)
    rank = 1 + sum(1 for b in others if (-_rank_share(b), b.name) < (-mine, board.name))
    return _replace(board, team_rank=rank, team_size=len(others) + 1)


def _reps(session: Session, team_key: str) -> list[Person]:
    return list(
        session.scalars(
            select(Person)
            .where(Person.team_key == team_key, Person.role == "rep", Person.active.is_(True))
            .order_by(Person.name)
        )
    )


def team_scoreboards(
    session: Session, *, config: MetricsConfig, team_key: str, day: dt.date, as_of: dt.datetime
) -> list[PersonScoreboard]:
    """Scoreboards of the team's active reps, best first by share of pace, ranked."""
    boards = _boards(session, config, _reps(session, team_key), day, as_of)
    scored = sorted(boards, key=lambda b: (-_rank_share(b), b.name))
    return [
        _replace(board, team_rank=rank, team_size=len(scored))
        for rank, board in enumerate(scored, start=1)
    ]


def _replace(board: PersonScoreboard, **changes: object) -> PersonScoreboard:
    from dataclasses import replace

    return replace(board, **changes)  # type: ignore[arg-type]


def _rank_share(board: PersonScoreboard) -> float:
    share = _share(board)
    return -1.0 if share is None else share


def _share(board: PersonScoreboard) -> float | None:
    shares: list[float] = []
    for m in board.metrics:
        if m.expected_now is not None and m.expected_now > 0:
            shares.append(min(m.value / m.expected_now, 2.0))
        elif m.target:
            shares.append(min(m.value / m.target, 2.0))
    return sum(shares) / len(shares) if shares else None


def _boards(
    session: Session,
    config: MetricsConfig,
    people: list[Person],
    day: dt.date,
    as_of: dt.datetime,
    *,
    history: bool = True,
) -> list[PersonScoreboard]:
    """Boards for `people` from one batched rollup query (the day only without history:
    enough to rank, no sparkline or streak)."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    catalog = catalog_for(config)
    work = work_calendar(config)
    inputs = [d for d in catalog.metrics.values() if d.kind == "input" and d.special is None]
    chosen: dict[int, list[tuple[MetricDef, float]]] = {}
    bases: set[str] = set()
    for person in people:
        picked = []
        for defn in inputs:
            target = resolve_target(
                config,
                defn.name,
                "daily",
                email=person.email,
                role=person.role,
                team=person.team_key,
            )
            if target is not None:
                picked.append((defn, target))
                bases.update(defn.bases)
        chosen[person.id] = picked
    first = day - dt.timedelta(days=STREAK_LOOKBACK_DAYS) if history else day
    sums: dict[tuple[int, dt.date], dict[str, float]] = defaultdict(dict)
    if people and bases:
        rows = session.execute(
            select(MetricDaily.person_id, MetricDaily.day, MetricDaily.metric, MetricDaily.value)
            .where(MetricDaily.person_id.in_([p.id for p in people]))
            .where(MetricDaily.metric.in_(sorted(bases)))
            .where(MetricDaily.day >= first, MetricDaily.day <= day)
        )
        for person_id, row_day, metric, value in rows:
            sums[(person_id, row_day)][metric] = value
    return [_board(config, work, person, chosen[person.id], sums, day, as_of) for person in people]


def _value(defn: MetricDef, sums: dict[str, float]) -> float:
    value = value_from_sums(defn, sums)[0]
    return 0.0 if value is None else value


def _board(
    config: MetricsConfig,
    work: WorkCalendar,
    person: Person,
    metrics: list[tuple[MetricDef, float]],
    sums: dict[tuple[int, dt.date], dict[str, float]],
    day: dt.date,
    as_of: dt.datetime,
) -> PersonScoreboard:
    zone = person_timezone(person, config.org.timezone)
    local_now = as_of.astimezone(ZoneInfo(zone))
    working = work.is_working_day(day)
    if day < local_now.date():
        fraction = 1.0
    elif day > local_now.date():
        fraction = 0.0
    else:
        fraction = work.day_fraction_elapsed(local_now)
    statuses: list[MetricStatus] = []
    for defn, daily in metrics:
        target = daily if working or not defn.additive else 0.0
        value = _value(defn, sums.get((person.id, day), {}))
        expected = target * fraction if defn.additive else target
        history = tuple(
            _value(defn, sums.get((person.id, day - dt.timedelta(days=back)), {}))
            for back in range(HISTORY_DAYS - 1, -1, -1)
        )
        statuses.append(
            MetricStatus(
                metric=defn.name,
                label=defn.label,
                unit=defn.unit,
                kind=defn.kind,
                value=value,
                target=target,
                expected_now=expected,
                status=status_for(
                    value, expected, config.org, higher_is_better=defn.higher_is_better
                ),
                shortfall=shortfall(value, expected, higher_is_better=defn.higher_is_better),
                history=history,
            )
        )
    return PersonScoreboard(
        person_id=person.id,
        name=person.name,
        email=person.email,
        slack_user_id=person.slack_user_id,
        team_key=person.team_key,
        timezone=zone,
        day=day,
        as_of=as_of.astimezone(dt.UTC),
        metrics=tuple(statuses),
        streak_days=_streak(work, person, metrics, sums, day),
        notes=_notes(work, person, day),
    )


def _met_all(
    person: Person,
    metrics: list[tuple[MetricDef, float]],
    sums: dict[tuple[int, dt.date], dict[str, float]],
    day: dt.date,
) -> bool:
    values = sums.get((person.id, day), {})
    return all(_value(defn, values) >= target for defn, target in metrics)


def _out_of_office(person: Person, day: dt.date) -> bool:
    start, until = person.out_of_office_from, person.out_of_office_until
    return start is not None and start <= day and (until is None or day <= until)


def _streak(
    work: WorkCalendar,
    person: Person,
    metrics: list[tuple[MetricDef, float]],
    sums: dict[tuple[int, dt.date], dict[str, float]],
    day: dt.date,
) -> int:
    """Working days in a row at or above every daily target: completed days before `day`,
    plus `day` itself once it is already met. Non-working and out-of-office days are skipped."""
    if not metrics:
        return 0
    streak = 1 if work.is_working_day(day) and _met_all(person, metrics, sums, day) else 0
    for back in range(1, STREAK_LOOKBACK_DAYS + 1):
        past = day - dt.timedelta(days=back)
        if not work.is_working_day(past) or _out_of_office(person, past):
            continue
        if not _met_all(person, metrics, sums, past):
            break
        streak += 1
    return streak


def _notes(work: WorkCalendar, person: Person, day: dt.date) -> tuple[str, ...]:
    notes: list[str] = []
    holiday = work.holiday_name(day)
    if holiday:
        notes.append(f"Holiday: {holiday}")
    elif not work.is_working_day(day):
        notes.append("Not a working day")
    if _out_of_office(person, day):
        notes.append("Out of office")
    return tuple(notes)
