"""The rhythm switchboard: which rhythms are on, when they run next, who changed them, and
whether anyone uses them ("minimum effective dosage").

Changes made in Slack are stored in `rhythm_overrides` (on/off and schedule, for everyone)
and `rhythm_team_overrides` (off for one team, `rhythms.rhythm_teams`) and beat the config
file; each one is written to the audit log with who and when.

Usage (`usage`, `command_usage`) over a window: a rhythm's sends count each recipient once
per run (a message and its chart are one send), its interactions the clicks, modals and
App Home actions on what it sent; slash commands and App Home opens are their own lines.
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
from rhythms.rhythm_teams import switch_team, teams_off, teams_off_by_rhythm
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
    teams_off: tuple[str, ...] = ()  # team keys it is switched off for


@dataclass(frozen=True)
class Usage:
    sent: int  # recipients reached, once per run (a message and its chart: one)
    interactions: int  # clicks, modals, commands
    people: int  # distinct people who interacted


class RhythmInEffect(RhythmConfig):
    """A rhythm as the switchboard has it, with its config name: whoever reads its
    audience (`registry.configured_audience`) finds its per-team switches by that name."""

    name: str


def effective(config: OrgConfig, override: RhythmOverride | None, name: str) -> RhythmInEffect:
    """The rhythm as configured, with the switchboard's override (enabled, schedule) on top.

    An override that no longer validates (say a cron written before a stricter check) is
    ignored with a warning rather than stopping the rhythm: the config file still holds.
    """
    rhythm = config.rhythms[name]
    update: dict[str, object] = {}
    if override is not None and override.enabled is not None:
        update["enabled"] = override.enabled
    if override is not None and override.schedule:
        update["schedule"] = override.schedule
    if update:
        try:
            rhythm = RhythmConfig.model_validate({**rhythm.model_dump(), **update})
        except ValidationError as exc:
            log.warning(
                "ignoring the switchboard override of %s (%s): %s",
                name,
                override.changed_by if override else "",
                exc.errors()[0]["msg"],
            )
    # validated already: construct, so a tick does not check every cron again
    return RhythmInEffect.model_construct(
        _fields_set={*rhythm.model_fields_set, "name"}, **dict(rhythm), name=name
    )


def switched_off_teams(session: Session, rhythm: RhythmConfig) -> frozenset[str]:
    """The teams a rhythm in effect is switched off for (none for a bare config entry)."""
    return teams_off(session, rhythm.name) if isinstance(rhythm, RhythmInEffect) else frozenset()


def rhythm_states(
    session: Session, *, config: OrgConfig, now: dt.datetime, zone: str
) -> list[RhythmState]:
    overrides = {o.rhythm: o for o in session.scalars(select(RhythmOverride))}
    per_team = teams_off_by_rhythm(session)
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
                per_team.get(name, ()),
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


def set_rhythm_for_team(
    session: Session,
    *,
    config: OrgConfig,
    name: str,
    team_key: str,
    enabled: bool,
    actor: str,
    now: dt.datetime,
) -> tuple[bool, RhythmState]:
    """Switch a rhythm off for one team, or back on (`rhythms.rhythm_teams`); (whether that
    changed anything, the rhythm's state). ValueError names an unknown rhythm or team."""
    if name not in config.rhythms:
        raise ValueError(f"no rhythm `{name}`: known are {', '.join(sorted(config.rhythms))}")
    if config.team(team_key) is None:
        known = ", ".join(sorted(t.key for t in config.teams)) or "none configured"
        raise ValueError(f"no team `{team_key}`: known are {known}")
    changed = switch_team(
        session, rhythm=name, team_key=team_key, enabled=enabled, actor=actor, now=now
    )
    states = rhythm_states(session, config=config, now=now, zone=config.org.timezone)
    return changed, next(s for s in states if s.name == name)


def usage(session: Session, *, since: dt.datetime) -> dict[str, Usage]:
    """Per rhythm since `since`: recipients reached (each once per run: the tower's message
    and its chart are one send), interactions on what it sent and distinct people.
    Slash commands and App Home opens are not a rhythm's: `command_usage`."""
    reached = (
        select(Delivery.rhythm, Delivery.period_key, Delivery.recipient)
        .where(
            Delivery.status == "sent",
            Delivery.sent_at >= since,
            Delivery.kind.in_(("message", "upload")),
        )
        .distinct()
        .subquery()
    )
    sent: dict[str, int] = {
        str(rhythm): int(n)
        for rhythm, n in session.execute(
            select(reached.c.rhythm, func.count()).group_by(reached.c.rhythm)
        )
    }
    clicks: Counter[str] = Counter()
    people: dict[str, set[str]] = {}
    for rhythm, user in session.execute(
        select(Interaction.rhythm, Interaction.slack_user_id).where(
            Interaction.at >= since, Interaction.rhythm.is_not(None)
        )
    ):
        clicks[str(rhythm)] += 1
        people.setdefault(str(rhythm), set()).add(user or "")
    names = set(sent) | set(clicks)
    return {n: Usage(sent.get(n, 0), clicks[n], len(people.get(n, set()))) for n in names}


@dataclass(frozen=True)
class CommandUsage:
    uses: int
    people: int


def command_usage(session: Session, *, since: dt.datetime) -> dict[str, CommandUsage]:
    """Uses and distinct people since `since` of each slash command that is not a rhythm's
    own (`/metric`, `/scoreboard`, `/velocity`, `/drumbeat`; `/maple` counts under MAPLE)
    and of the App Home ("App Home": opens), most used first."""
    uses: Counter[str] = Counter()
    people: dict[str, set[str]] = {}
    for kind, name, user in session.execute(
        select(Interaction.kind, Interaction.name, Interaction.slack_user_id).where(
            Interaction.at >= since,
            Interaction.rhythm.is_(None),
            Interaction.kind.in_(("command", "home")),
        )
    ):
        key = "App Home" if kind == "home" else "/" + (name.split() or ["?"])[0]
        uses[key] += 1
        people.setdefault(key, set()).add(user or "")
    return {k: CommandUsage(n, len(people[k])) for k, n in uses.most_common()}
