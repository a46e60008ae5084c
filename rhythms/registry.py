"""Rhythm declarations as data, and the one place that registers them.

A `RhythmSpec` says what a kind of rhythm is: its `kind` (matching `[rhythms.NAME].kind`
or the table's name in the config), a pure-ish `compose` function (recipients in, outgoing
messages out; it may read the store through `ctx.session` but never writes), and an
`audience` resolver. `default_registry()` is the registrar: the engine, the preview command
and the tests all get their rhythms from it, so a kind is declared exactly once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.calendar import WorkCalendar
from metrics.directory import person_timezone
from metrics.models import Person
from rhythms.config import OrgConfig, RhythmConfig
from rhythms.outbox import DeliveryKind
from rhythms.rhythm_teams import left_out
from rhythms.switchboard import switched_off_teams


@dataclass(frozen=True)
class Recipient:
    """A person in a rhythm's audience, resolved from the directory."""

    person_id: int
    email: str
    name: str
    role: str
    team_key: str | None
    slack_user_id: str | None
    timezone: str
    out_of_office_from: dt.date | None = None
    out_of_office_until: dt.date | None = None

    def out_of_office_on(self, day: dt.date) -> bool:
        if self.out_of_office_from is None and self.out_of_office_until is None:
            return False
        start = self.out_of_office_from or dt.date.min
        end = self.out_of_office_until or dt.date.max
        return start <= day <= end


@dataclass(frozen=True)
class Outgoing:
    """One delivery a rhythm wants written to the outbox."""

    recipient: str  # Slack user id or channel
    payload: dict[str, Any]
    kind: DeliveryKind = "message"
    part: str = "main"
    thread_part: str | None = None  # post in the thread of this run's `part` to the recipient


@dataclass
class RunContext:
    """Everything a compose function may use for one run (one rhythm, period and zone)."""

    session: Session
    config: OrgConfig
    rhythm_name: str
    rhythm: RhythmConfig
    period_key: str
    zone: str
    local: dt.datetime  # the scheduled local time (aware, in `zone`)
    now: dt.datetime  # aware UTC: when the run actually executes
    calendar: WorkCalendar
    notes: list[str] = field(default_factory=list)  # warnings the run records
    # teams the switchboard switched this rhythm off for: their team posts are left out
    teams_off: frozenset[str] = frozenset()

    @property
    def local_day(self) -> dt.date:
        return self.local.date()


ComposeFn = Callable[[RunContext, Sequence[Recipient]], list[Outgoing]]
AudienceFn = Callable[[Session, OrgConfig, RhythmConfig], list[Recipient]]


def configured_audience(
    session: Session, config: OrgConfig, rhythm: RhythmConfig
) -> list[Recipient]:
    """Active people matching the audience: (roles) and (teams) narrow, `people` adds;
    minus, for a rhythm in effect (`switchboard.effective`), the people of the teams the
    switchboard has switched it off for (`rhythm_teams.left_out`). Every reader of an
    audience comes here, so a team's switch holds for every rhythm kind."""
    audience = rhythm.audience
    roles, teams = set(audience.roles), set(audience.teams)
    emails = {email.lower() for email in audience.people}
    if not roles and not teams and not emails:
        return []
    off = switched_off_teams(session, rhythm)
    people = session.scalars(select(Person).where(Person.active.is_(True)).order_by(Person.id))
    found: list[Recipient] = []
    for person in people:
        by_group = (roles or teams) and (
            (not roles or person.role in roles) and (not teams or person.team_key in teams)
        )
        if (by_group or person.email.lower() in emails) and not left_out(
            config, person.email, person.team_key, off
        ):
            found.append(recipient_of(person, config))
    return found


def recipient_of(person: Person, config: OrgConfig) -> Recipient:
    return Recipient(
        person_id=person.id,
        email=person.email,
        name=person.name,
        role=person.role,
        team_key=person.team_key,
        slack_user_id=person.slack_user_id,
        timezone=person_timezone(person, config.org.timezone),
        out_of_office_from=person.out_of_office_from,
        out_of_office_until=person.out_of_office_until,
    )


@dataclass(frozen=True)
class RhythmSpec:
    kind: str
    compose: ComposeFn
    audience: AudienceFn = configured_audience
    description: str = ""


class Registry:
    """Rhythm kinds by name; `register` refuses a kind declared twice."""

    def __init__(self) -> None:
        self._specs: dict[str, RhythmSpec] = {}

    def register(self, spec: RhythmSpec) -> RhythmSpec:
        if spec.kind in self._specs:
            raise ValueError(f"rhythm kind {spec.kind!r} is already registered")
        self._specs[spec.kind] = spec
        return spec

    def get(self, kind: str) -> RhythmSpec | None:
        return self._specs.get(kind)

    def kinds(self) -> list[str]:
        return sorted(self._specs)


def default_registry(scoreboards: Any = None) -> Registry:
    """The registrar: every rhythm kind this build knows, wired to its services.

    `scoreboards` is a `rhythms.scoreboard.ScoreboardSource` (default: the metrics engine);
    tests pass a fake.
    """
    from rhythms.control_tower_message import control_tower_spec
    from rhythms.game_plan import game_plan_spec
    from rhythms.maple_rhythm import maple_prompt_spec
    from rhythms.monthly_review_message import monthly_review_spec
    from rhythms.scoreboard import daily_scoreboard_spec, team_scoreboard_spec

    registry = Registry()
    registry.register(daily_scoreboard_spec(scoreboards))
    registry.register(team_scoreboard_spec(scoreboards))
    registry.register(maple_prompt_spec())
    registry.register(control_tower_spec())
    registry.register(monthly_review_spec())
    registry.register(game_plan_spec())
    # `alerts` has no spec: rules run on their own cadence in the heartbeat.
    return registry
