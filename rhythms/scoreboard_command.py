"""`/scoreboard [@person | team | org]`: the daily scoreboard on demand, with the same
permissions as `/metric` (a rep: themselves, and teammates only where scoreboards are
transparent; where they are private a rep's team view shows only how many reps are green,
yellow and red).

Without an argument a rep gets their own board, a manager the boards of the teams they
cover (`permissions.covered_teams`: both of a manager of two teams), an exec or admin the
org's (a line per team, `rhythms.scoreboard_leaders`). A person's board is for their own
today; a team's or the org's for the viewer's today (its reps' numbers for that date, each
in their own zone)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from metrics.directory import person_timezone
from metrics.models import Person
from rhythms.config import OrgConfig
from rhythms.metric_answer import Refused, resolve_subject
from rhythms.metric_query import QueryError, Target, scoreboard_words, team_words
from rhythms.permissions import covered_teams, sees_everything, sees_teammates
from rhythms.scoreboard import MetricsScoreboards, ScoreboardSource
from rhythms.scoreboard_leaders import org_message, teams_message
from rhythms.scoreboard_message import rep_message, team_message

USAGE = "Use `/scoreboard` (yours), `/scoreboard @dana`, `/scoreboard sdr` or `/scoreboard org`."


def scoreboard_reply(
    session: Session,
    *,
    config: OrgConfig,
    viewer: Person | None,
    text: str,
    now: dt.datetime,
    source: ScoreboardSource | None = None,
) -> dict[str, Any]:
    """The message payload to answer with; raises QueryError/Refused with a clear text."""
    boards = source if source is not None else MetricsScoreboards()
    words = team_words([(t.key, t.name, t.channel) for t in config.teams])
    target, rest = scoreboard_words(text.split(), words)
    if rest:
        raise QueryError(f"I didn't understand `{' '.join(rest)[:60]}`. {USAGE}")
    if target == Target("self") and viewer is not None and sees_everything(viewer):
        target = Target("org")  # a leader's own board is what they lead
    elif target == Target("self") and viewer is not None and viewer.role == "manager":
        keys = covered_teams(config, viewer.email, viewer.team_key)
        if keys:
            return teams_message(
                [_team_board(session, config, viewer, Target("team", k), now, boards) for k in keys]
            )
    if target.kind in ("team", "org"):
        return _team_board(session, config, viewer, target, now, boards)
    subject = resolve_subject(session, config=config, viewer=viewer, target=target)
    day = now.astimezone(ZoneInfo(subject.timezone)).date()  # the person's own today
    person_id = int(subject.scope.key or 0)
    board = boards.person_scoreboard(
        session, config=config, person_id=person_id, day=day, as_of=now
    )
    own = viewer is not None and viewer.id == person_id
    return rep_message(board, currency=config.currency.reporting, own=own)


def _team_board(
    session: Session,
    config: OrgConfig,
    viewer: Person | None,
    target: Target,
    now: dt.datetime,
    boards: ScoreboardSource,
) -> dict[str, Any]:
    """A team's board or the org's (a line per team), after the permission check."""
    subject = resolve_subject(session, config=config, viewer=viewer, target=target)
    # A team has no zone of its own: its reps may live anywhere. The day shown is the
    # viewer's today, and each rep's numbers are for that date in their own zone.
    zone = person_timezone(viewer, config.org.timezone) if viewer else subject.timezone
    day = now.astimezone(ZoneInfo(zone)).date()
    if subject.scope.kind == "org":
        per_team = [
            (
                team.name,
                boards.team_scoreboards(
                    session, config=config, team_key=team.key, day=day, as_of=now
                ),
            )
            for team in config.teams
        ]
        return org_message(subject.name, per_team, day)
    team_key = str(subject.scope.key)
    return team_message(
        subject.name,
        boards.team_scoreboards(session, config=config, team_key=team_key, day=day, as_of=now),
        day,
        currency=config.currency.reporting,
        team_key=team_key,
        named=viewer is not None and sees_teammates(viewer, config),
    )


__all__ = ["USAGE", "QueryError", "Refused", "scoreboard_reply"]
