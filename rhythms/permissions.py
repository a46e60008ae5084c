"""Who may see whose numbers. One table, used by every command, view and button.

| viewer  | own | teammates                     | other people | own team | other teams | org    |
|---------|-----|-------------------------------|--------------|----------|-------------|--------|
| rep     | yes | if transparent (1)            | no           | yes      | no          | if (1) |
| manager | yes | on led teams (2); reports     | no           | yes      | led (2)     | yes    |
| exec    | yes | yes                           | yes          | yes      | yes         | yes    |
| admin   | yes | yes                           | yes          | yes      | yes         | yes    |

(1) `[org].transparent_scoreboards` in the org config.
(2) `leads`: their own team and `covered_teams` — every team whose `manager` they are (a
    manager of SDR East and SDR West sees both), else their own, else (a director with no
    team of their own) the teams of the people who report to them.

Someone Drumbeat does not know (no person with that Slack id) sees nothing. A refusal says
why and never includes the value. Where scoreboards are private, one person's numbers are
never posted in a channel but by that person (`can_post_in_channel`): only a reply the
asker alone sees. Alerts concern the person they are about, the managers leading that
person's team (or whom the person reports to), and execs and admins (`alert_concerns`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

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


def leads(viewer: Person, config: MetricsConfig) -> set[str]:
    """The teams whose numbers a manager may see: the teams they cover and their own."""
    if viewer.role != "manager":
        return set()
    teams = set(covered_teams(config, viewer.email, viewer.team_key))
    if viewer.team_key:
        teams.add(viewer.team_key)
    return teams


def can_view_person(viewer: Person, target: Person, config: MetricsConfig) -> Decision:
    if viewer.id == target.id or sees_everything(viewer):
        return ALLOW
    same_team = viewer.team_key is not None and viewer.team_key == target.team_key
    if viewer.role == "manager" and (
        same_team or target.manager_id == viewer.id or target.team_key in leads(viewer, config)
    ):
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
    led = leads(viewer, config)
    if sees_everything(viewer) or viewer.team_key == team_key or team_key in led:
        return ALLOW
    if len(led) > 1:
        names = ", ".join(sorted(getattr(config.team(k), "name", k) for k in led))
        return Decision(
            False,
            f"You can see the numbers of the teams you lead ({names}); other teams' are for "
            "their managers and leadership.",
        )
    return Decision(
        False,
        "You can see your own team's numbers; other teams' are for their managers and leadership.",
    )


def can_view_org(viewer: Person, config: MetricsConfig) -> Decision:
    if viewer.role != "rep" or config.org.transparent_scoreboards:
        return ALLOW
    return Decision(False, "Org-wide numbers are for managers and leadership in this workspace.")


PRIVATE_IN_CHANNEL = (
    "Scoreboards are private in this workspace, so I don't post one person's numbers in a "
    "channel. Ask again without `public` for an answer only you see; a team's or the org's "
    "numbers can be posted."
)


def can_post_in_channel(viewer: Person, person_id: int | None, config: MetricsConfig) -> Decision:
    """Whether an answer about `person_id` (None: a team or the org) may be posted where
    others read it. Where scoreboards are private a person's numbers are theirs and their
    leaders' only: never posted in a channel, except by that person."""
    if person_id is None or config.org.transparent_scoreboards or person_id == viewer.id:
        return ALLOW
    return Decision(False, PRIVATE_IN_CHANNEL)


def is_admin(viewer: Person | None) -> bool:
    return viewer is not None and viewer.role == "admin"


def alert_concerns(subject: str, viewer: Person, config: MetricsConfig | None = None) -> bool:
    """Whether an alert about `subject` ("person:12", "team:sdr", "org") is the viewer's:
    their own; for a manager, one about a team they cover (`leads`) or about a person on
    one, or who reports to them; execs and admins all.

    Without `config`, a manager's teams are their own and those of the people who report to
    them (read through the viewer's session)."""
    if sees_everything(viewer) or subject == f"person:{viewer.id}":
        return True
    if viewer.role != "manager":
        return False
    session = object_session(viewer)
    if config is not None:
        teams = leads(viewer, config)
    else:
        teams = {viewer.team_key} if viewer.team_key else set()
        if session is not None:
            teams |= set(
                session.scalars(
                    select(Person.team_key).where(
                        Person.manager_id == viewer.id, Person.team_key.is_not(None)
                    )
                )
            )
    kind, _, key = subject.partition(":")
    if kind == "team":
        return key in teams
    if kind != "person" or not key.isdigit() or session is None:
        return False
    target = session.get(Person, int(key))
    return target is not None and (target.team_key in teams or target.manager_id == viewer.id)


def covered_teams(config: MetricsConfig, email: str, team_key: str | None) -> list[str]:
    """The teams a leader's team numbers cover (the team scoreboard's, MAPLE's figures and
    the permissions alike): those whose `manager` they are in the config; else their own
    team; else — a director with no team of their own — the teams of the people whose
    `manager` they are, in config order."""
    teams = [t.key for t in config.teams if t.manager == email]
    if not teams and team_key:
        teams = [team_key]
    if not teams:
        under = {p.team for p in config.people if p.manager == email and p.team}
        teams = [t.key for t in config.teams if t.key in under]
    return teams
