"""What a rhythm would send, composed through the engine's own path, with nothing written.

`preview(engine, session, rhythm_name=..., at=..., person_email=...)` is what
`drumbeat preview` prints (and the App Home's "Send me a preview now" sends). When the
rhythm would run at `at` in a zone — a firing of its schedule (as retimed on the
switchboard) at most `grace_minutes` before, on a working day when `working_days_only` — it
composes that run. Otherwise it composes the zone's next real firing, with the numbers as of
that firing (so far), and says so at the top of each message: "would not run at Sat 12 Dec
17:30 EST: not a working day (weekend); shown: its next firing, Mon 14 Dec 17:30 EST".
People without a Slack id are shown under a visible placeholder recipient, not dropped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.models import Person
from rhythms.blocks import MESSAGE_BLOCKS_MAX, context, escaped
from rhythms.config import RhythmConfig
from rhythms.engine import EngineError, RhythmEngine
from rhythms.registry import Outgoing, Recipient, recipient_of
from rhythms.schedule import Firing, fires_once_a_day, firings, next_firing, period_key


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
    schedule = engine.active_rhythms(session).get(rhythm_name, rhythm).schedule
    out: list[Outgoing] = []
    for zone, members in sorted(by_zone.items()):
        when, note = at, None
        why_not = _why_not_at(engine, rhythm, rhythm_name, schedule, zone, at)
        if why_not is not None:
            upcoming = _next_run(engine, rhythm, rhythm_name, schedule, zone, at)
            shown = (
                f"shown: its next firing, {upcoming.local:%a %d %b %H:%M %Z}, "
                "with the numbers recorded by then"
                if upcoming is not None
                else "it has no firing in the next year; shown: what it would send then"
            )
            note = f"{rhythm_name} would not run at {_local(at, zone)}: {why_not}; {shown}"
            when = upcoming.at if upcoming is not None else at
        local = when.astimezone(ZoneInfo(zone))
        key = period_key(rhythm_name, local, zone, daily=fires_once_a_day(schedule))
        ctx = engine.context(session, rhythm_name, rhythm, key, zone, local, when)
        composed = spec.compose(ctx, members)
        out.extend(composed if note is None else [_noted(o, note) for o in composed])
    return out


def _local(at: dt.datetime, zone: str) -> str:
    return f"{at.astimezone(ZoneInfo(zone)):%a %d %b %H:%M %Z}"


def _not_working(engine: RhythmEngine, rhythm: RhythmConfig, firing: Firing) -> str | None:
    day = firing.local.date()
    if not rhythm.working_days_only or engine.calendar.is_working_day(day):
        return None
    return f"not a working day ({engine.calendar.holiday_name(day) or 'weekend'})"


def _why_not_at(
    engine: RhythmEngine,
    rhythm: RhythmConfig,
    name: str,
    schedule: str,
    zone: str,
    at: dt.datetime,
) -> str | None:
    """None when a run at `at` in `zone` would happen (the engine's rule: a firing at most
    `grace_minutes` before, on a working day if required); else why not."""
    grace = dt.timedelta(minutes=rhythm.grace_minutes)
    found = firings(name, schedule, zone, at - grace - dt.timedelta(microseconds=1), at)
    if not found:
        return f"not a firing of its schedule ({schedule!r} in {zone})"
    return _not_working(engine, rhythm, found[-1])


def _next_run(
    engine: RhythmEngine,
    rhythm: RhythmConfig,
    name: str,
    schedule: str,
    zone: str,
    at: dt.datetime,
) -> Firing | None:
    """The zone's first firing after `at` that would run (skipping non-working days)."""
    after = at
    for _ in range(400):
        firing = next_firing(name, schedule, zone, after)
        if firing is None or _not_working(engine, rhythm, firing) is None:
            return firing
        after = firing.at
    return None


def _noted(outgoing: Outgoing, note: str) -> Outgoing:
    """`outgoing` with `note` heading its notification text and (room permitting) blocks."""
    payload = dict(outgoing.payload)
    payload["text"] = f"[preview: {note}] {payload.get('text', '')}"
    blocks = list(payload.get("blocks") or [])
    if blocks and len(blocks) < MESSAGE_BLOCKS_MAX:
        payload["blocks"] = [context(f":information_source: Preview: {escaped(note)}"), *blocks]
    return dataclasses.replace(outgoing, payload=payload)
