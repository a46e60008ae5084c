"""The reads behind `metrics.scoreboards`, sized for a team of hundreds or an org of 10,000.

- People and rollup rows are read as plain rows from the session's connection
  (`metrics.group_values.plain`), not as ORM objects: a team's scoreboards read ~32 rollup
  rows per rep, and ORM result handling costs more than the rest of the work.
- Daily targets are resolved once per (team, role) for people without a personal target for
  any of the metrics (`metrics.targets` precedence: person > team key > role, so everyone
  else in a team with the same role has the same targets), the way
  `metrics.targets.person_target` shares range targets for alerts.
- Rollups are read as one row per (person, day) with a column per base; a metric's value
  for a day comes straight from its column for plain counts (one base, no denominator:
  `value_from_sums` reduces to base × scale), else from `value_from_sums`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import Session

from metrics.catalog import MetricDef
from metrics.config import MetricsConfig
from metrics.group_values import plain
from metrics.lookup import value_from_sums
from metrics.models import MetricDaily, Person
from metrics.targets import personal_target_emails, resolve_target

Picked = list[tuple[MetricDef, float]]
Row = tuple[float, ...]
ValueOf = Callable[[Row], float]


class Who(Protocol):
    """What a scoreboard needs of a person: a `Person` or a row of `PERSON_COLUMNS`."""

    @property
    def id(self) -> int: ...
    @property
    def email(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def team_key(self) -> str | None: ...
    @property
    def slack_user_id(self) -> str | None: ...
    @property
    def slack_timezone(self) -> str | None: ...
    @property
    def timezone_override(self) -> str | None: ...
    @property
    def active(self) -> bool: ...
    @property
    def out_of_office_from(self) -> dt.date | None: ...
    @property
    def out_of_office_until(self) -> dt.date | None: ...


PERSON_COLUMNS = (
    Person.id,
    Person.email,
    Person.name,
    Person.role,
    Person.team_key,
    Person.slack_user_id,
    Person.slack_timezone,
    Person.timezone_override,
    Person.active,
    Person.out_of_office_from,
    Person.out_of_office_until,
)


# Built once: the daily rhythm runs these once per team (statement building is not free).
_TEAM_REPS = (
    select(*PERSON_COLUMNS)
    .where(Person.team_key == bindparam("team"), Person.role == "rep", Person.active.is_(True))
    .order_by(Person.name)
)
_SUMS: dict[int, Any] = {}


def team_reps(session: Session, team_key: str) -> list[Who]:
    """The team's active reps by name, as plain rows."""
    return list(plain(session).execute(_TEAM_REPS, {"team": team_key}).all())


def daily_targets(
    config: MetricsConfig,
    inputs: Sequence[MetricDef],
    people: Sequence[Who],
) -> dict[int, Picked]:
    """Per person id: the `inputs` with a daily target for them, in order, with the target."""
    personal = frozenset().union(*(personal_target_emails(config, d.name) for d in inputs))
    memo: dict[tuple[object, ...], Picked] = {}
    chosen: dict[int, Picked] = {}
    for person in people:
        email = person.email
        key: tuple[object, ...]
        if email and email.lower() in personal:
            key = ("person", email)
        else:
            key = ("group", person.team_key, person.role)
        picked = memo.get(key)
        if picked is None:
            picked = memo[key] = _resolve(config, inputs, person)
        chosen[person.id] = picked
    return chosen


def _resolve(config: MetricsConfig, inputs: Sequence[MetricDef], person: Who) -> Picked:
    picked: Picked = []
    for defn in inputs:
        target = resolve_target(
            config, defn.name, "daily", email=person.email, role=person.role, team=person.team_key
        )
        if target is not None:
            picked.append((defn, target))
    return picked


class DaySums:
    """Rollup values per (person, day) as one tuple over `names` (absent bases are 0)."""

    def __init__(self, names: Sequence[str], rows: dict[tuple[int, dt.date], Row]) -> None:
        self.names = tuple(names)
        self.rows = rows
        self.empty: Row = (0.0,) * len(self.names)

    def column(self, defn: MetricDef) -> int | None:
        """The row index holding the metric's value as is (one base, no denominator, no
        scale), if read."""
        plain = not defn.denominator and len(defn.numerator) == 1 and defn.scale == 1.0
        if plain and defn.numerator[0] in self.names:
            return self.names.index(defn.numerator[0])
        return None

    def reader(self, defn: MetricDef) -> ValueOf:
        """A function of one (person, day) row giving the metric's value (0 when undefined):
        `value_from_sums` of the row's bases, straight from the column for a plain count."""
        if not defn.denominator and len(defn.numerator) == 1:
            index, scale = self.names.index(defn.numerator[0]), defn.scale
            return lambda row: row[index] * scale
        names = self.names
        return lambda row: _general(defn, dict(zip(names, row, strict=True)))


def read_sums(
    session: Session, person_ids: Sequence[int], bases: Sequence[str], first: dt.date, last: dt.date
) -> DaySums:
    """Rollup values per (person, day) and base over [first, last].

    One row per (person, day) with a column per base, 0 where absent (the primary key makes
    each a sum of at most one stored value, so it is that value): a quarter of the rows of one
    per base, and no dict per row."""
    names = sorted(set(bases))
    if not person_ids or not names:
        return DaySums(names, {})
    params: dict[str, Any] = {f"base{i}": name for i, name in enumerate(names)}
    params.update(ids=list(person_ids), names=names, first=first, last=last)
    rows = plain(session).execute(_sums_query(len(names)), params).all()
    return DaySums(names, {(pid, day): tuple(values) for pid, day, *values in rows})


def _sums_query(width: int) -> Any:
    """The pivot for `width` bases (bound as base0, base1, ...), built once per width."""
    query = _SUMS.get(width)
    if query is None:
        cells = (
            func.sum(
                case((MetricDaily.metric == bindparam(f"base{i}"), MetricDaily.value), else_=0.0)
            )
            for i in range(width)
        )
        query = _SUMS[width] = (
            select(MetricDaily.person_id, MetricDaily.day, *cells)
            .where(MetricDaily.person_id.in_(bindparam("ids", expanding=True)))
            .where(MetricDaily.metric.in_(bindparam("names", expanding=True)))
            .where(MetricDaily.day >= bindparam("first"), MetricDaily.day <= bindparam("last"))
            .group_by(MetricDaily.person_id, MetricDaily.day)
        )
    return query


def _general(defn: MetricDef, sums: dict[str, float]) -> float:
    value = value_from_sums(defn, sums)[0]
    return 0.0 if value is None else value
