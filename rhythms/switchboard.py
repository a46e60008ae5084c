"""The rhythm switchboard: which rhythms are on, when they run next, who changed them, and
whether anyone uses them ("minimum effective dosage").

Changes made in Slack are stored in `rhythm_overrides` and beat the config file; each one is
written to the audit log with who and when.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rhythms.config import OrgConfig, RhythmConfig
from rhythms.models import AuditEntry, Delivery, Interaction, RhythmOverride
from rhythms.schedule import firings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RhythmState:
    name: str
    kind: str
    enabled: bool
    schedule: str
    timezone: str
    changed_by: str | None
    changed_at: dt.datetime | None
    next_run: dt.datetime | None  # in the zone asked for


@dataclass(frozen=True)
class Usage:
    sent: int  # deliveries sent in the window
    interactions: int  # clicks, modals, commands
    people: int  # distinct people who interacted


def effective(config: OrgConfig, override: RhythmOverride | None, name: str) -> RhythmConfig:
    """The rhythm as configured, with the switchboard's override (enabled, schedule) on top.

    An override that no longer validates (say a cron written before a stricter check) is
    ignored with a warning rather than stopping the rhythm: the config file still holds.
    """
    rhythm = config.rhythms[name]
    if override is None:
        return rhythm
    update: dict[str, object] = {}
    if override.enabled is not None:
        update["enabled"] = override.enabled
    if override.schedule:
        update["schedule"] = override.schedule
    try:
        return RhythmConfig.model_validate({**rhythm.model_dump(), **update})
    except ValidationError as exc:
        log.warning(
            "ignoring the switchboard override of %s (%s): %s",
            name,
            override.changed_by,
            exc.errors()[0]["msg"],
        )
        return rhythm


def rhythm_states(
    session: Session, *, config: OrgConfig, now: dt.datetime, zone: str
) -> list[RhythmState]:
    overrides = {o.rhythm: o for o in session.scalars(select(RhythmOverride))}
    out = []
    for name in config.rhythms:
        rhythm = effective(config, overrides.get(name), name)
        run_zone = zone if rhythm.timezone == "recipient" else rhythm.timezone
        upcoming = firings(name, rhythm.schedule, run_zone, now, now + dt.timedelta(days=32))
        next_run = (
            upcoming[0].at.astimezone(ZoneInfo(zone)) if upcoming and rhythm.enabled else None
        )
        o = overrides.get(name)
        out.append(
            RhythmState(
                name,
                config.rhythm_kind(name),
                rhythm.enabled,
                rhythm.schedule,
                run_zone,
                o.changed_by if o else None,
                o.changed_at if o else None,
                next_run,
            )
        )
    return out


def set_rhythm(
    session: Session,
    *,
    config: OrgConfig,
    name: str,
    actor: str,
    now: dt.datetime,
    enabled: bool | None = None,
    schedule: str | None = None,
) -> RhythmState:
    """Switch a rhythm on/off or retime it; ValueError names the problem (unknown, bad cron)."""
    if name not in config.rhythms:
        raise ValueError(f"no rhythm `{name}`: known are {', '.join(sorted(config.rhythms))}")
    if schedule is not None:
        try:
            RhythmConfig.model_validate({"schedule": schedule})
        except ValidationError as exc:
            raise ValueError(str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from None
    row = session.get(RhythmOverride, name) or RhythmOverride(
        rhythm=name, changed_by=actor, changed_at=now
    )
    if enabled is not None:
        row.enabled = enabled
    if schedule is not None:
        row.schedule = schedule
    row.changed_by, row.changed_at = actor, now
    session.add(row)
    session.add(
        AuditEntry(
            at=now,
            actor=actor,
            action="rhythm.set",
            detail={"rhythm": name, "enabled": enabled, "schedule": schedule},
        )
    )
    session.flush()
    states = rhythm_states(session, config=config, now=now, zone=config.org.timezone)
    return next(s for s in states if s.name == name)


def usage(session: Session, *, since: dt.datetime) -> dict[str, Usage]:
    """Per rhythm since `since`: deliveries sent, interactions and distinct people."""
    sent = dict(
        session.execute(
            select(Delivery.rhythm, func.count())
            .where(Delivery.status == "sent", Delivery.sent_at >= since)
            .group_by(Delivery.rhythm)
        ).all()
    )
    clicks: Counter[str] = Counter()
    people: dict[str, set[str]] = {}
    for rhythm, user in session.execute(
        select(Interaction.rhythm, Interaction.slack_user_id).where(Interaction.at >= since)
    ):
        key = rhythm or "commands"
        clicks[key] += 1
        people.setdefault(key, set()).add(user or "")
    names = set(sent) | set(clicks)
    return {n: Usage(int(sent.get(n, 0)), clicks[n], len(people.get(n, set()))) for n in names}
