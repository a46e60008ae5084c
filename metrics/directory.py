"""The org directory in the database: teams, people, memberships and CRM-owner mapping.

`apply_directory` makes the tables match the org config (the config is the source of truth
for who is who); `map_crm_owners` links CRM users to people by explicit config, else by email
(case-insensitive). Callers own the transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from metrics.config import MetricsConfig
from metrics.models import CrmUser, Person, Team, TeamMembership
from metrics.rezone import mark_rezoned

SINCE_ALWAYS = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class DirectoryChanges:
    teams: int
    people_added: int
    people_updated: int
    people_deactivated: int
    team_moves: int
    rezoned: int = 0  # people whose effective time zone changed (their rollups re-placed)


def apply_directory(session: Session, cfg: MetricsConfig, *, today: dt.date) -> DirectoryChanges:
    """Upsert teams and people from config; record team moves as of `today`."""
    existing_teams = {t.key: t for t in session.scalars(select(Team))}
    for team_cfg in cfg.teams:
        team = existing_teams.get(team_cfg.key) or Team(key=team_cfg.key)
        team.name, team.function, team.channel = team_cfg.name, team_cfg.function, team_cfg.channel
        session.add(team)
    session.flush()

    people = {p.email: p for p in session.scalars(select(Person))}
    zones_before = {p.id: person_timezone(p, cfg.org.timezone) for p in people.values()}
    added = updated = moves = 0
    for person_cfg in cfg.people:
        person = people.get(person_cfg.email)
        if person is None:
            person = Person(email=person_cfg.email, active=True)
            people[person_cfg.email] = person
            added += 1
        elif (person.name, person.role, person.team_key, person.active) != (
            person_cfg.name,
            person_cfg.role,
            person_cfg.team,
            person_cfg.active,
        ):
            updated += 1
        person.name, person.role = person_cfg.name, person_cfg.role
        if person.id is None:  # new: on this team for all of its history
            _move(session, person, person_cfg.team, SINCE_ALWAYS)
            person.team_key = person_cfg.team
        elif person.team_key != person_cfg.team:
            moves += _move(session, person, person_cfg.team, today)
            person.team_key = person_cfg.team
        person.active = person_cfg.active
        person.timezone_override = person_cfg.timezone
        if person_cfg.slack_user_id:
            person.slack_user_id = person_cfg.slack_user_id
        session.add(person)
    session.flush()

    team_managers = {t.key: t.manager for t in cfg.teams}
    for person_cfg in cfg.people:
        manager_email = person_cfg.manager or (
            team_managers.get(person_cfg.team) if person_cfg.team else None
        )
        if manager_email == person_cfg.email:
            manager_email = None
        manager = people.get(manager_email) if manager_email else None
        people[person_cfg.email].manager_id = manager.id if manager else None

    configured = {p.email for p in cfg.people}
    deactivated = 0
    for email, person in people.items():
        if email not in configured and person.active:
            person.active = False
            deactivated += 1
    session.flush()
    rezoned = [
        p.id
        for p in people.values()
        if p.id in zones_before and zones_before[p.id] != person_timezone(p, cfg.org.timezone)
    ]
    mark_rezoned(session, rezoned)
    return DirectoryChanges(len(cfg.teams), added, updated, deactivated, moves, len(rezoned))


def _move(session: Session, person: Person, team_key: str | None, today: dt.date) -> int:
    """Close the person's open membership and open one for `team_key` from `today`."""
    if person.id is None:
        session.add(person)
        session.flush()
    session.execute(
        update(TeamMembership)
        .where(TeamMembership.person_id == person.id, TeamMembership.valid_to.is_(None))
        .values(valid_to=today)
    )
    if team_key is not None:
        session.add(TeamMembership(person_id=person.id, team_key=team_key, valid_from=today))
    return 1


def team_days(
    session: Session, team_key: str, start: dt.date, end: dt.date
) -> list[tuple[int, dt.date, dt.date]]:
    """(person, first, last) runs of days in [start, end] that active reps were on
    `team_key` (`team_memberships`): what a team's target adds up, as its numbers do."""
    rows = session.execute(
        select(TeamMembership.person_id, TeamMembership.valid_from, TeamMembership.valid_to)
        .join(Person, Person.id == TeamMembership.person_id)
        .where(
            TeamMembership.team_key == team_key,
            Person.role == "rep",
            Person.active.is_(True),
            TeamMembership.valid_from <= end,
            (TeamMembership.valid_to.is_(None)) | (TeamMembership.valid_to > start),
        )
        .order_by(TeamMembership.person_id, TeamMembership.valid_from)
    )
    runs = []
    for person_id, valid_from, valid_to in rows:
        last = end if valid_to is None else min(end, valid_to - dt.timedelta(days=1))
        runs.append((person_id, max(start, valid_from), last))
    return runs


def map_crm_owners(session: Session, cfg: MetricsConfig, source: str) -> list[CrmUser]:
    """Link `source`'s CRM users to people; return those that match nobody."""
    people = {p.email: p for p in session.scalars(select(Person))}
    explicit: dict[str, Person] = {}
    by_crm_email: dict[str, Person] = {}
    for person_cfg in cfg.people:
        person = people.get(person_cfg.email)
        if person is None:
            continue
        owner_id = person_cfg.crm_owner_ids.get(source)
        if owner_id is not None:
            explicit[owner_id] = person
        by_crm_email[(person_cfg.crm_email or person_cfg.email).lower()] = person
    unmatched: list[CrmUser] = []
    for user in session.scalars(select(CrmUser).where(CrmUser.source == source)):
        match = explicit.get(user.external_id) or (
            by_crm_email.get(user.email.strip().lower()) if user.email else None
        )
        user.person_id = match.id if match else None
        if match is None:
            unmatched.append(user)
    session.flush()
    return unmatched


def unmatched_owners(session: Session) -> list[CrmUser]:
    """CRM users (any source) that map to no person, active first."""
    return list(
        session.scalars(
            select(CrmUser)
            .where(CrmUser.person_id.is_(None))
            .order_by(CrmUser.active.desc(), CrmUser.source, CrmUser.email)
        )
    )


class Zoned(Protocol):
    """A `Person` or a plain row with its zone columns."""

    @property
    def timezone_override(self) -> str | None: ...
    @property
    def slack_timezone(self) -> str | None: ...


def person_timezone(person: Zoned, org_default: str) -> str:
    """The zone a person lives in: config override, else Slack profile, else the org's."""
    return person.timezone_override or person.slack_timezone or org_default
