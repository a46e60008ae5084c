"""Helpers for reliability tests: an org of N reps, a real scoreboard fan-out through the
rhythm engine into the outbox, and the outbox's state afterwards."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from metrics.clock import OffsetClock, TravellingClock
from rhythms.config import OrgConfig, parse_org_config
from rhythms.engine import RhythmEngine
from rhythms.models import Delivery
from rhythms.registry import default_registry
from tests.support.rhythms import FakeScoreboards, org_data, seed_directory

# CI sizes; DRUMBEAT_SOAK=full runs the sizes (see docs/reliability.md).
FULL = os.environ.get("DRUMBEAT_SOAK", "").lower() == "full"

# Monday 23 Nov 2026, 17:30 in Chicago: the daily scoreboard fires.
FIRES_AT = dt.datetime(2026, 11, 23, 23, 30, tzinfo=dt.UTC)


def slack_id(i: int) -> str:
    return f"UREP{i:05d}"


def big_org(reps: int) -> OrgConfig:
    """The test org (one SDR team, a manager) with `reps` reps, all in Chicago."""
    data: dict[str, Any] = org_data()
    keep = [p for p in data["people"] if p["role"] != "rep"]
    data["people"] = keep + [
        {
            "email": f"rep{i}@acme.example",
            "name": f"Rep {i}",
            "role": "rep",
            "team": "sdr",
            "timezone": "America/Chicago",
            "slack_user_id": slack_id(i),
        }
        for i in range(reps)
    ]
    data["rhythms"] = {"daily_scoreboard": data["rhythms"]["daily_scoreboard"]}
    return parse_org_config(data)


def fan_out(factory: sessionmaker[Session], cfg: OrgConfig, at: dt.datetime = FIRES_AT) -> int:
    """Seed the directory and let the engine write one scoreboard DM per rep; returns the
    number of deliveries written."""
    seed_directory(factory, cfg)
    engine = RhythmEngine(
        session_factory=factory,
        config=cfg,
        clock=TravellingClock(at),
        registry=default_registry(FakeScoreboards()),
        replica="fan-out",
    )
    report = engine.tick()
    assert report.outcomes, "the scoreboard did not run"
    return len(deliveries(factory))


def deliveries(factory: sessionmaker[Session]) -> dict[int, Delivery]:
    with factory() as session:
        return {d.id: d for d in session.scalars(select(Delivery))}


def statuses(factory: sessionmaker[Session]) -> Counter[str]:
    return Counter(d.status for d in deliveries(factory).values())


def delivery_ids_in_slack(messages: list[dict[str, Any]]) -> list[int]:
    return [
        int(m["metadata"]["event_payload"]["delivery_id"])
        for m in messages
        if isinstance(m.get("metadata"), dict)
    ]


# Slack ids of one person per role in `roles_org()`; "outsider" is not in the directory.
ROLE_USERS = {
    "rep": "UDANA01",
    "manager": "UMARIA1",
    "other_manager": "UBEN001",
    "other_rep": "UOMAR01",
    "exec": "UCRO001",
    "admin": "UOPS001",
    "unknown": "UNOBODY",
}


def roles_org(**settings: Any) -> OrgConfig:
    """The test org with a Slack id for everyone and a second team (manager Ben, rep Omar)."""
    data: dict[str, Any] = org_data()
    for person in data["people"]:
        if person["email"] == "cro@acme.example":
            person["slack_user_id"] = ROLE_USERS["exec"]
        if person["email"] == "ops@acme.example":
            person["slack_user_id"] = ROLE_USERS["admin"]
    data["people"] += [
        {
            "email": "ben@acme.example",
            "name": "Ben Stone",
            "role": "manager",
            "team": "ae",
            "slack_user_id": ROLE_USERS["other_manager"],
        },
        {
            "email": "omar@acme.example",
            "name": "Omar Haddad",
            "role": "rep",
            "team": "ae",
            "slack_user_id": ROLE_USERS["other_rep"],
        },
    ]
    data["teams"].append({"key": "ae", "name": "Account Executives", "manager": "ben@acme.example"})
    data["org"].update(settings)
    return parse_org_config(data)


class _Since:
    """Real (monotonic) time elapsed since construction, added to `at`."""

    def __init__(self, at: dt.datetime) -> None:
        self._at = at
        self._start = time.monotonic()

    def now(self) -> dt.datetime:
        return self._at + dt.timedelta(seconds=time.monotonic() - self._start)


def running_clock(at: dt.datetime) -> OffsetClock:
    """Real time moving on from `at` (retry backoffs fall due as they would in production).
    Starts at `at` even when `at` is in the past (an OffsetClock on the system clock only
    moves forward, so it silently ran at today's date once the calendar passed `at`, and
    deliveries written at `at` had expired)."""
    return OffsetClock(_Since(at))
