"""The people directory as alert evaluation needs it: plain rows, read once per tick.

Alert rules look at every active person on each evaluation. Loading 10,000 `Person` ORM
objects costs about ten times a plain column select, and evaluation never writes to people,
so it reads `Member` rows: one query per tick, shared by every rule due. It holds inactive
people too, because a manager (`people.manager_id`, `[[teams]].manager`) is routed to even if
marked inactive, as the ORM lookups did before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from metrics.group_values import plain
from metrics.models import Person


class Member(NamedTuple):
    """One row of `people`, with the zone resolved (override > Slack profile > org).

    A named tuple: built straight from the result row (10,000 of them per tick)."""

    id: int
    email: str
    name: str
    role: str
    team_key: str | None
    manager_id: int | None
    slack_user_id: str | None
    timezone: str
    active: bool | None


@dataclass(frozen=True)
class Directory:
    everyone: tuple[Member, ...]  # by id
    by_id: dict[int, Member] = field(default_factory=dict)
    by_email: dict[str, Member] = field(default_factory=dict)
    execs: tuple[Member, ...] = ()  # the CRO route: active people with the exec role

    @property
    def active(self) -> list[Member]:
        return [m for m in self.everyone if m.active]


def _zone(org_timezone: str) -> Any:
    """`person_timezone` in SQL: the first non-empty of override, Slack profile, org."""
    return func.coalesce(
        func.nullif(Person.timezone_override, ""),
        func.nullif(Person.slack_timezone, ""),
        literal(org_timezone),
    )


def load_directory(session: Session, *, org_timezone: str) -> Directory:
    """Every person as a `Member` (one column select, no ORM objects)."""
    zone = _zone(org_timezone)
    query = select(
        Person.id,
        Person.email,
        Person.name,
        Person.role,
        Person.team_key,
        Person.manager_id,
        Person.slack_user_id,
        zone,
        Person.active,
    ).order_by(Person.id)
    make = Member._make
    members = tuple(map(make, plain(session).execute(query).all()))
    return Directory(
        members,
        {m.id: m for m in members},
        {m.email: m for m in members if m.email},
        tuple(m for m in members if m.active and m.role == "exec"),
    )


def subject_zones(
    session: Session, *, org_timezone: str, subjects: dict[str, frozenset[str]]
) -> dict[str, tuple[str, ...]]:
    """The zones each alert subject lives in (`alert_rules.zones_of`), without loading the
    directory: subject key -> the roles whose people make up a team or the org. A person's
    own zone; a team's or the org's, its active people's of those roles; the org zone when
    nobody is found."""
    zone = _zone(org_timezone)
    ids = {int(k[7:]) for k in subjects if k.startswith("person:") and k[7:].isdigit()}
    teams = {k[5:] for k in subjects if k.startswith("team:")}
    found: dict[str, set[str]] = {k: set() for k in subjects}
    db = plain(session)
    if ids:
        for pid, z in db.execute(select(Person.id, zone).where(Person.id.in_(ids))):
            found[f"person:{pid}"].add(z)
    if teams:
        rows = db.execute(
            select(Person.team_key, Person.role, zone)
            .where(Person.active.is_(True), Person.team_key.in_(teams))
            .distinct()
        )
        for team, role, z in rows:
            if role in subjects[f"team:{team}"]:
                found[f"team:{team}"].add(z)
    if "org" in subjects:
        rows = db.execute(select(Person.role, zone).where(Person.active.is_(True)).distinct())
        found["org"].update(z for role, z in rows if role in subjects["org"])
    return {k: tuple(sorted(zs)) or (org_timezone,) for k, zs in found.items()}
