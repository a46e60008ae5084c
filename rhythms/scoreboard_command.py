"""`/scoreboard [@person | team]`: the daily scoreboard on demand, with the same permissions
as `/metric` (a rep: themselves, and teammates only where scoreboards are transparent; where
they are private a rep's team view shows only how many reps are green, yellow and red).
A person's board is for their own today; a team's for the viewer's today (its reps' numbers
for that date, each in their own zone)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from metrics.directory import person_timezone
from metrics.models import Person
from rhythms.config import OrgConfig
from rhythms.metric_answer import Refused, resolve_subject
from rhythms.metric_query import QueryError, parse_target, team_words
from rhythms.permissions import sees_teammates
from rhythms.scoreboard import MetricsScoreboards, ScoreboardSource
from rhythms.scoreboard_message import rep_message, team_message

USAGE = "Use `/scoreboard` (yours), `/scoreboard @dana` or `/scoreboard sdr`."


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
    target, rest = parse_target(text.split(), words)
    if rest:
        raise QueryError(f"I didn't understand `{' '.join(rest)[:60]}`. {USAGE}")
    if target.kind == "org":
        raise QueryError("Scoreboards are per person or team. " + USAGE)
    subject = resolve_subject(session, config=config, viewer=viewer, target=target)
    currency = config.currency.reporting
    if subject.scope.kind == "team":
        # A team has no zone of its own: its reps may live anywhere. The day shown is the
        # viewer's today, and each rep's numbers are for that date in their own zone.
        zone = person_timezone(viewer, config.org.timezone) if viewer else subject.timezone
        day = now.astimezone(ZoneInfo(zone)).date()
        team_key = str(subject.scope.key)
        boards_for_team = boards.team_scoreboards(
            session, config=config, team_key=team_key, day=day, as_of=now
        )
        return team_message(
            subject.name,
            boards_for_team,
            day,
            currency=currency,
            team_key=team_key,
            named=viewer is not None and sees_teammates(viewer, config),
        )
    day = now.astimezone(ZoneInfo(subject.timezone)).date()  # the person's own today
    person_id = int(subject.scope.key or 0)
    board = boards.person_scoreboard(
        session, config=config, person_id=person_id, day=day, as_of=now
    )
    return rep_message(board, currency=currency)


__all__ = ["USAGE", "QueryError", "Refused", "scoreboard_reply"]
