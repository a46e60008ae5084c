"""Per-team switches: a rhythm switched off for one team (`rhythm_team_overrides`).

`/drumbeat rhythm off NAME TEAM` stores a row, `/drumbeat rhythm on NAME TEAM` deletes it;
each change is written to the audit log (`rhythm.team`). While a rhythm is on, the teams it
is off for are left out of it everywhere its audience is read
(`rhythms.registry.configured_audience`: the engine's runs, MAPLE's reminders and digest,
the App Home): a person is left out when every team they stand for is off — a rep's own
team, the teams a manager covers (`permissions.covered_teams`), so the manager of SDR East
and SDR West keeps the rhythm while one of the two is on. Team posts of a switched-off team
(the team scoreboard's DM and channel post) are left out too (`RunContext.teams_off`).
Someone with no team (an exec) is never left out by a team's switch.

A rhythm has one schedule: retiming it for one team is a rhythm of its own in
drumbeat.toml (same `kind`, that team as `audience`, its own `schedule`), with this one
switched off for the team.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.config import MetricsConfig
from rhythms.models import AuditEntry, RhythmTeamOverride
from rhythms.permissions import covered_teams


def teams_off(session: Session, rhythm: str) -> frozenset[str]:
    """The teams `rhythm` (its config name) is switched off for."""
    return frozenset(
        session.scalars(
            select(RhythmTeamOverride.team_key).where(RhythmTeamOverride.rhythm == rhythm)
        )
    )


def teams_off_by_rhythm(session: Session) -> dict[str, tuple[str, ...]]:
    """Every rhythm's switched-off teams, sorted (for the switchboard's display)."""
    out: dict[str, list[str]] = {}
    for row in session.scalars(select(RhythmTeamOverride)):
        out.setdefault(row.rhythm, []).append(row.team_key)
    return {name: tuple(sorted(keys)) for name, keys in out.items()}


def left_out(config: MetricsConfig, email: str, team_key: str | None, off: Collection[str]) -> bool:
    """Whether a person is out of a rhythm switched off for the teams `off`: all the teams
    they stand for (`covered_teams`) are off; nobody with no team is."""
    if not off:
        return False
    teams = covered_teams(config, email, team_key)
    return bool(teams) and all(t in off for t in teams)


def switch_team(
    session: Session,
    *,
    rhythm: str,
    team_key: str,
    enabled: bool,
    actor: str,
    now: dt.datetime,
) -> bool:
    """Switch `rhythm` off (a row) or back on (no row) for one team; True when that changed
    something. The caller checks the names; every call is audited, changed or not."""
    row = session.get(RhythmTeamOverride, (rhythm, team_key))
    changed = (row is None) != enabled
    if enabled and row is not None:
        session.delete(row)
    elif not enabled and row is None:
        session.add(
            RhythmTeamOverride(rhythm=rhythm, team_key=team_key, changed_by=actor, changed_at=now)
        )
    session.add(
        AuditEntry(
            at=now,
            actor=actor,
            action="rhythm.team",
            detail={"rhythm": rhythm, "team": team_key, "enabled": enabled, "changed": changed},
        )
    )
    session.flush()
    return changed
