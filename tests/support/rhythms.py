"""Helpers for rhythm tests: a small multi-time-zone org, a seeded directory and a fake
scoreboard source whose numbers are a pure function of (person, day)."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from metrics.config import MetricsConfig
from metrics.directory import apply_directory
from metrics.scoreboard import MetricStatus, PersonScoreboard
from rhythms.config import OrgConfig, parse_org_config

UTC = dt.UTC

REPS = (
    # email, name, zone, slack id
    ("dana@acme.example", "Dana Ruiz", "America/Chicago", "UDANA01"),
    ("leo@acme.example", "Leo Martin", "America/New_York", "ULEO001"),
    ("aisha@acme.example", "Aisha Khan", "America/Chicago", "UAISHA1"),
    ("chloe@acme.example", "Chloe Wu", "America/Los_Angeles", "UCHLOE1"),
)


def org_data(**rhythm_overrides: Any) -> dict[str, Any]:
    daily: dict[str, Any] = {
        "schedule": "30 17 * * mon-fri",
        "audience": {"roles": ["rep"]},
        "options": {"day": "today"},
    }
    daily.update(rhythm_overrides)
    people: list[dict[str, Any]] = [
        {"email": "cro@acme.example", "name": "Olivia Hart", "role": "exec"},
        {"email": "ops@acme.example", "name": "Sam Okafor", "role": "admin"},
        {
            "email": "maria@acme.example",
            "name": "Maria Gonzalez",
            "role": "manager",
            "team": "sdr",
            "timezone": "America/New_York",
            "slack_user_id": "UMARIA1",
        },
    ]
    for email, name, zone, slack in REPS:
        people.append(
            {
                "email": email,
                "name": name,
                "role": "rep",
                "team": "sdr",
                "timezone": zone,
                "slack_user_id": slack,
            }
        )
    return {
        "org": {"name": "Acme", "timezone": "America/New_York"},
        "calendar": {"country": "US", "extra_holidays": ["2026-12-24"]},
        "slack": {"admin_channel": "#revops"},
        "teams": [
            {
                "key": "sdr",
                "name": "SDR",
                "manager": "maria@acme.example",
                "channel": "#team-sdr",
            }
        ],
        "people": people,
        "metrics": [
            {"name": "calls", "targets": {"sdr": {"daily": 60}}},
            {"name": "meetings_booked", "targets": {"sdr": {"daily": 2}}},
        ],
        "rhythms": {
            "daily_scoreboard": daily,
            "team_scoreboard": {
                "schedule": "45 17 * * mon-fri",
                "timezone": "America/New_York",
                "audience": {"roles": ["manager"]},
                "options": {"post_in_team_channel": True},
            },
        },
    }


def make_config(**rhythm_overrides: Any) -> OrgConfig:
    return parse_org_config(org_data(**rhythm_overrides))


def seed_directory(factory: sessionmaker[Session], cfg: OrgConfig) -> None:
    with factory() as session:
        apply_directory(session, cfg, today=dt.date(2026, 1, 1))
        session.commit()


def fake_value(person_id: int, metric: str, day: dt.date) -> float:
    base = 60 if metric == "calls" else 2
    return float((person_id * 13 + day.toordinal() * 7 + len(metric)) % int(base * 1.5 + 1))


class FakeScoreboards:
    """A `ScoreboardSource` whose numbers are `fake_value`; counts calls (thread-safe)."""

    def __init__(self, *, fail_for: set[int] | None = None) -> None:
        self.fail_for = fail_for or set()
        self.calls = 0
        self._lock = threading.Lock()

    def person_scoreboard(
        self,
        session: Session,
        *,
        config: MetricsConfig,
        person_id: int,
        day: dt.date,
        as_of: dt.datetime,
    ) -> PersonScoreboard:
        from metrics.models import Person

        with self._lock:
            self.calls += 1
        if person_id in self.fail_for:
            raise RuntimeError(f"metrics unavailable for person {person_id}")
        person = session.get(Person, person_id)
        assert person is not None
        return board_for(person.id, person.name, person.email, person.slack_user_id, day, as_of)

    def team_scoreboards(
        self,
        session: Session,
        *,
        config: MetricsConfig,
        team_key: str,
        day: dt.date,
        as_of: dt.datetime,
    ) -> list[PersonScoreboard]:
        from sqlalchemy import select

        from metrics.models import Person

        people = session.scalars(
            select(Person).where(Person.team_key == team_key, Person.role == "rep")
        ).all()
        return [
            self.person_scoreboard(session, config=config, person_id=p.id, day=day, as_of=as_of)
            for p in people
        ]


def board_for(
    person_id: int,
    name: str,
    email: str,
    slack_user_id: str | None,
    day: dt.date,
    as_of: dt.datetime,
) -> PersonScoreboard:
    metrics = []
    for metric, label, target in (
        ("calls", "Calls", 60.0),
        ("meetings_booked", "Meetings booked", 2.0),
    ):
        value = fake_value(person_id, metric, day)
        expected = target
        ratio = value / expected
        status = "green" if ratio >= 1 else "yellow" if ratio >= 0.8 else "red"
        history = tuple(
            fake_value(person_id, metric, day - dt.timedelta(days=d)) for d in range(6, -1, -1)
        )
        metrics.append(
            MetricStatus(
                metric=metric,
                label=label,
                unit="count",
                kind="input",
                value=value,
                target=target,
                expected_now=expected,
                status=status,  # type: ignore[arg-type]
                shortfall=max(0.0, expected - value),
                history=history,
            )
        )
    return PersonScoreboard(
        person_id=person_id,
        name=name,
        email=email,
        slack_user_id=slack_user_id,
        team_key="sdr",
        timezone="America/Chicago",
        day=day,
        as_of=as_of,
        metrics=tuple(metrics),
        streak_days=person_id % 4,
        team_rank=None,
        team_size=len(REPS),
    )
