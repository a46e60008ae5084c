"""A two-zone org for alert tests: SDR East in New York (Leo, Dana), SDR West in Los Angeles
(Aisha, Ben), both managed by Maria; 50 calls a day each, a 09:00–18:00 working day, no
holidays. "Now" is around Wednesday 25 November 2026."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.directory import apply_directory
from metrics.models import MetricDaily, Person
from rhythms.config import OrgConfig, parse_org_config

NY, LA = "America/New_York", "America/Los_Angeles"
WED = dt.date(2026, 11, 25)

PEOPLE = (
    # first name, full name, role, team, zone
    ("maria", "Maria Gonzalez", "manager", "east", NY),
    ("olivia", "Olivia Hart", "exec", None, NY),
    ("sam", "Sam Okafor", "admin", None, NY),
    ("leo", "Leo Martin", "rep", "east", NY),
    ("dana", "Dana Ruiz", "rep", "east", NY),
    ("aisha", "Aisha Khan", "rep", "west", LA),
    ("ben", "Ben Carter", "rep", "west", LA),
)

TEAM_PACE = {
    "name": "team-behind",
    "metric": "calls",
    "scope": {"level": "team"},
    "condition": "below_pace_pct",
    "value": 0.6,
    "severity": "critical",
    "route": ["cro", "manager"],
}
RED_STREAK = {
    "name": "red-streak",
    "metric": "calls",
    "scope": {"level": "person"},
    "condition": "turns_red",
    "escalate_after_red_days": 3,
    "route": ["person", "manager"],
}


def config(*rules: dict[str, Any], alerts_schedule: str | None = None) -> OrgConfig:
    """The org with these alert rules; `alerts_schedule`: an `alerts` rhythm (recipient
    zones) with that cron, else none (each rule on its own `every_minutes` slots)."""
    data: dict[str, Any] = {
        "org": {"name": "Acme", "timezone": NY},
        "teams": [
            {"key": "east", "name": "SDR East", "manager": "maria@acme.io"},
            {"key": "west", "name": "SDR West", "manager": "maria@acme.io"},
        ],
        "people": [
            {
                "email": f"{first}@acme.io",
                "name": name,
                "role": role,
                **({"team": team} if team else {}),
                "timezone": zone,
                "slack_user_id": f"U{first.upper()}",
            }
            for first, name, role, team, zone in PEOPLE
        ],
        "metrics": [{"name": "calls", "targets": {"east": {"daily": 50}, "west": {"daily": 50}}}],
        "alerts": list(rules),
    }
    if alerts_schedule is not None:
        data["rhythms"] = {"alerts": {"schedule": alerts_schedule}}
    return parse_org_config(data)


def seed(session: Session, cfg: OrgConfig) -> dict[str, Person]:
    """The directory; people by first name."""
    apply_directory(session, cfg, today=WED - dt.timedelta(days=30))
    session.commit()
    return {p.email.split("@")[0]: p for p in session.scalars(select(Person))}


def calls(session: Session, person: Person, n: float, day: dt.date = WED) -> None:
    """Set the person's calls on `day` (their local day), as a sync would roll them up."""
    row = session.get(MetricDaily, (person.id, "calls", day))
    if row is None:
        session.add(
            MetricDaily(
                person_id=person.id, metric="calls", day=day, value=n, team_key=person.team_key
            )
        )
    else:
        row.value = n
    session.commit()


def at(hour: int, minute: int = 0, zone: str = NY, day: dt.date = WED) -> dt.datetime:
    """A local wall time as aware UTC."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)
