"""What a rhythm would send, composed through the engine's own path, with nothing written.

`preview(engine, session, rhythm_name=..., at=..., person_email=...)` is what
`drumbeat preview` prints. It ignores the schedule and working days (you asked for a time,
you get that time's message) and shows people without a Slack id under a visible
placeholder recipient instead of dropping them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.models import Person
from rhythms.engine import EngineError, RhythmEngine
from rhythms.registry import Outgoing, Recipient, recipient_of
from rhythms.schedule import fires_once_a_day, period_key


def preview(
    engine: RhythmEngine,
    session: Session,
    *,
    rhythm_name: str,
    at: dt.datetime,
    person_email: str | None = None,
) -> list[Outgoing]:
    """What `rhythm_name` would send at `at` (to one person if given); writes nothing."""
    config = engine.config
    rhythm = config.rhythms.get(rhythm_name)
    if rhythm is None:
        known = ", ".join(sorted(config.rhythms)) or "none configured"
        raise EngineError(f"no rhythm {rhythm_name!r} in the config (known: {known})")
    spec = engine.spec_for(rhythm_name)
    if spec is None:
        raise EngineError(
            f"rhythm {rhythm_name!r} has kind {config.rhythm_kind(rhythm_name)!r}, "
            f"which this build cannot compose yet (known: {', '.join(engine.registry.kinds())})"
        )
    recipients = spec.audience(session, config, rhythm)
    if person_email is not None:
        email = person_email.strip().lower()
        recipients = [r for r in recipients if r.email.lower() == email]
        if not recipients:
            person = session.scalars(select(Person).where(Person.email == email)).first()
            if person is None:
                raise EngineError(f"no person with email {person_email!r} in the directory")
            recipients = [recipient_of(person, config)]
    recipients = [
        r if r.slack_user_id else dataclasses.replace(r, slack_user_id=f"<no Slack id: {r.email}>")
        for r in recipients
    ]
    by_zone: dict[str, list[Recipient]] = {}
    for recipient in recipients:
        zone = recipient.timezone if rhythm.timezone == "recipient" else rhythm.timezone
        by_zone.setdefault(zone, []).append(recipient)
    if not by_zone and rhythm.channel:
        by_zone[engine.fixed_zone(rhythm)] = []
    out: list[Outgoing] = []
    for zone, members in sorted(by_zone.items()):
        local = at.astimezone(ZoneInfo(zone))
        key = period_key(rhythm_name, local, zone, daily=fires_once_a_day(rhythm.schedule))
        ctx = engine.context(session, rhythm_name, rhythm, key, zone, local, at)
        out.extend(spec.compose(ctx, members))
    return out
