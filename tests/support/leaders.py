"""A small org for leaders' views: Maria manages two teams (SDR East `sdr`, SDR West
`sdrw`), Tom one (`ae`) and reports to Vera, a director with no team of her own; Kim is on
SDR West but reports to Tom. Everyone in New York. `StatusBoards` is a scoreboard source
whose verdicts are set per person by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from metrics.config import MetricsConfig
from metrics.directory import apply_directory
from metrics.models import Person
from metrics.scoreboard import MetricStatus, PersonScoreboard
from rhythms.config import OrgConfig, parse_org_config

NY = "America/New_York"
# email prefix, name, role, team, explicit manager prefix
PEOPLE = (
    ("olivia", "Olivia Hart", "exec", None, None),
    ("sam", "Sam Okafor", "admin", None, None),
    ("vera", "Vera Lind", "manager", None, None),
    ("maria", "Maria Gonzalez", "manager", "sdr", None),
    ("tom", "Tom Becker", "manager", "ae", "vera"),
    ("dana", "Dana Ruiz", "rep", "sdr", None),
    ("leo", "Leo Martin", "rep", "sdr", None),
    ("aisha", "Aisha Khan", "rep", "sdrw", None),
    ("ben", "Ben Carter", "rep", "sdrw", None),
    ("kim", "Kim Park", "rep", "sdrw", "tom"),
    ("chloe", "Chloe Wu", "rep", "ae", None),
)


def email(prefix: str) -> str:
    return f"{prefix}@acme.example"


def slack_id(prefix: str) -> str:
    return f"U{prefix.upper()}"


def leaders_data(*, transparent: bool = True) -> dict[str, Any]:
    people = []
    for prefix, name, role, team, manager in PEOPLE:
        person: dict[str, Any] = {
            "email": email(prefix),
            "name": name,
            "role": role,
            "timezone": NY,
            "slack_user_id": slack_id(prefix),
        }
        if team:
            person["team"] = team
        if manager:
            person["manager"] = email(manager)
        people.append(person)
    return {
        "org": {"name": "Acme", "timezone": NY, "transparent_scoreboards": transparent},
        "calendar": {"country": "US"},
        "slack": {"admin_channel": "#revops"},
        "teams": [
            {"key": "sdr", "name": "SDR East", "manager": email("maria"), "channel": "#sdr"},
            {"key": "sdrw", "name": "SDR West", "manager": email("maria"), "channel": "#sdrw"},
            {"key": "ae", "name": "Account Executives", "manager": email("tom"), "channel": "#ae"},
        ],
        "people": people,
        "metrics": [{"name": "calls", "targets": {"rep": {"daily": 10}}}],
        "rhythms": {
            "daily_scoreboard": {"schedule": "30 17 * * mon-fri", "audience": {"roles": ["rep"]}},
            "team_scoreboard": {
                "schedule": "45 17 * * mon-fri",
                "timezone": NY,
                "audience": {"roles": ["manager"]},
                "options": {"post_in_team_channel": True},
            },
            "maple": {"schedule": "0 14 * * fri", "audience": {"roles": ["manager"]}},
            "control_tower": {
                "schedule": "30 8 * * mon-fri",
                "timezone": NY,
                "audience": {"roles": ["exec"]},
            },
        },
    }


def leaders_org(**settings: Any) -> OrgConfig:
    return parse_org_config(leaders_data(**settings))


def seed(factory: sessionmaker[Session], cfg: OrgConfig) -> dict[str, Person]:
    """The directory from the config; people by email prefix (detached, ids loaded)."""
    with factory() as session:
        apply_directory(session, cfg, today=dt.date(2026, 1, 1))
        session.commit()
        people = {p.email.split("@")[0]: p for p in session.scalars(select(Person))}
        session.expunge_all()
    return people


# calls today against a daily target of 10: >= 10 green, >= 8 yellow, else red
CALLS = {"dana": 12, "leo": 3, "aisha": 9, "ben": 10, "kim": 2, "chloe": 11}


class StatusBoards:
    """A `ScoreboardSource` with one input (calls, target 10, all due): `CALLS` per person."""

    def person_scoreboard(
        self,
        session: Session,
        *,
        config: MetricsConfig,
        person_id: int,
        day: dt.date,
        as_of: dt.datetime,
    ) -> PersonScoreboard:
        person = session.get(Person, person_id)
        assert person is not None
        value = float(CALLS.get(person.email.split("@")[0], 0))
        status = "green" if value >= 10 else "yellow" if value >= 8 else "red"
        metric = MetricStatus(
            metric="calls",
            label="Calls",
            unit="count",
            kind="input",
            value=value,
            target=10.0,
            expected_now=10.0,
            status=status,  # type: ignore[arg-type]
            shortfall=max(0.0, 10.0 - value),
        )
        return PersonScoreboard(
            person_id=person.id,
            name=person.name,
            email=person.email,
            slack_user_id=person.slack_user_id,
            team_key=person.team_key,
            timezone=NY,
            day=day,
            as_of=as_of,
            metrics=(metric,),
        )

    def team_scoreboards(
        self,
        session: Session,
        *,
        config: MetricsConfig,
        team_key: str,
        day: dt.date,
        as_of: dt.datetime,
    ) -> list[PersonScoreboard]:
        reps = session.scalars(
            select(Person)
            .where(Person.team_key == team_key, Person.role == "rep")
            .order_by(Person.id)
        )
        return [
            self.person_scoreboard(session, config=config, person_id=p.id, day=day, as_of=as_of)
            for p in reps
        ]
