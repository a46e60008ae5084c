"""Who may see whose numbers. One table, used by every command, view and button.

| viewer  | own | teammates             | other people | own team | other teams | org    |
|---------|-----|-----------------------|--------------|----------|-------------|--------|
| rep     | yes | if transparent (1)    | no           | yes      | no          | if (1) |
| manager | yes | their team, reports   | no           | yes      | no          | yes    |
| exec    | yes | yes                   | yes          | yes      | yes         | yes    |
| admin   | yes | yes                   | yes          | yes      | yes         | yes    |

(1) `[org].transparent_scoreboards` in the org config.

Someone Drumbeat does not know (no person with that Slack id) sees nothing. A refusal says
why and never includes the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.config import MetricsConfig
from metrics.models import Person


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


ALLOW = Decision(True)


def viewer_for(session: Session, slack_user_id: str) -> Person | None:
    return session.scalars(
        select(Person).where(Person.slack_user_id == slack_user_id, Person.active.is_(True))
    ).first()


def sees_everything(viewer: Person) -> bool:
    return viewer.role in ("exec", "admin")


def can_view_person(viewer: Person, target: Person, config: MetricsConfig) -> Decision:
    if viewer.id == target.id or sees_everything(viewer):
        return ALLOW
    same_team = viewer.team_key is not None and viewer.team_key == target.team_key
    if viewer.role == "manager" and (same_team or target.manager_id == viewer.id):
        return ALLOW
    if viewer.role == "rep" and same_team and config.org.transparent_scoreboards:
        return ALLOW
    if viewer.role == "rep" and same_team:
        return Decision(
            False,
            "Scoreboards are private in this workspace: you can see your own "
            "numbers and your team's totals.",
        )
    return Decision(False, f"You can't see {target.name}'s numbers: they're not on your team.")


class HasRole(Protocol):
    """A `Person`, or a rhythm's `Recipient`: anything with a role."""

    @property
    def role(self) -> str: ...


def sees_teammates(viewer: HasRole, config: MetricsConfig) -> bool:
    """Whether the viewer may see each teammate's line in a team view (not only totals)."""
    return viewer.role != "rep" or config.org.transparent_scoreboards


def can_view_team(viewer: Person, team_key: str, config: MetricsConfig) -> Decision:
    if sees_everything(viewer) or viewer.team_key == team_key:
        return ALLOW
    return Decision(
        False,
        "You can see your own team's numbers; other teams' are for their managers and leadership.",
    )


def can_view_org(viewer: Person, config: MetricsConfig) -> Decision:
    if viewer.role != "rep" or config.org.transparent_scoreboards:
        return ALLOW
    return Decision(False, "Org-wide numbers are for managers and leadership in this workspace.")


def is_admin(viewer: Person | None) -> bool:
    return viewer is not None and viewer.role == "admin"


def alert_concerns(subject: str, viewer: Person) -> bool:
    """Whether an alert about `subject` ("person:12", "team:sdr", "org") is the viewer's."""
    if sees_everything(viewer) or subject == f"person:{viewer.id}":
        return True
    return viewer.role == "manager" and subject == f"team:{viewer.team_key}"


def covered_teams(config: MetricsConfig, email: str, team_key: str | None) -> list[str]:
    """The teams a leader's team numbers cover: those whose `manager` they are in the config,
    else their own team (the team scoreboard's and MAPLE's figures alike)."""
    teams = [t.key for t in config.teams if t.manager == email]
    if not teams and team_key:
        teams = [team_key]
    return teams
