"""The "Open scoreboard" button of an alert: the scoreboard of what the alert is about.

A line about a person opens that person's scoreboard (their today, in their zone); a line
about a team, the team's (the clicker's today, each rep's numbers in their own zone), as
`/scoreboard` shows them. A grouped message ("3 · No calls by 11:00") opens the team board
of the people in it (one per team, at most `MAX_BOARDS`). Who may see what is
`rhythms.permissions` as everywhere else: a refused board is replaced by the reason, never
by the numbers. The org has no scoreboard: the answer points at `/metric`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.directory import person_timezone
from metrics.models import Person
from rhythms.alert_messages import parse_action_value
from rhythms.alert_routing import RHYTHM
from rhythms.config import OrgConfig
from rhythms.models import Delivery
from rhythms.permissions import can_view_person, can_view_team, sees_teammates, viewer_for
from rhythms.scoreboard import MetricsScoreboards, ScoreboardSource
from rhythms.scoreboard_message import rep_message, team_message

MAX_BOARDS = 3
Payload = dict[str, Any]
Board = tuple[str, str | int]  # ("person", id) | ("team", key) | ("org", "")


def _text(text: str) -> Payload:
    return {"text": text}


def _message_subjects(session: Session, *, channel: str, ts: str) -> list[str]:
    """The subjects of the alert message posted at (channel, ts), in its order."""
    delivery = session.scalars(
        select(Delivery).where(
            Delivery.rhythm == RHYTHM,
            Delivery.channel == channel,
            Delivery.ts == ts,
            Delivery.part.startswith("fire"),
        )
    ).first()
    group = ((delivery.payload.get("alert") or {}).get("group") if delivery else None) or {}
    return [str(line["subject"]) for line in group.get("lines", [])]


def _board_of(subject: str, teams: dict[int, str | None], *, alone: bool) -> Board:
    """The board to show for one subject: a person's own when it is the only one (else their
    team's, when they have one), a team's, or the org's."""
    kind, _, key = subject.partition(":")
    if kind == "person" and key.isdigit():
        team = teams.get(int(key))
        return ("team", team) if team and not alone else ("person", int(key))
    if kind == "team":
        return ("team", key)
    return ("org", "")


def _boards(session: Session, subjects: list[str]) -> list[Board]:
    """The boards for an alert's subjects, in order, each once."""
    ids = [int(s[7:]) for s in subjects if s.startswith("person:") and s[7:].isdigit()]
    rows = session.execute(select(Person.id, Person.team_key).where(Person.id.in_(ids)))
    teams: dict[int, str | None] = {int(pid): team for pid, team in rows}
    out: list[Board] = []
    for subject in subjects:
        board = _board_of(subject, teams, alone=len(subjects) == 1)
        if board not in out:
            out.append(board)
    return out


def alert_scoreboards(
    session: Session,
    *,
    config: OrgConfig,
    clicker: str,
    value: str,
    channel: str,
    ts: str,
    now: dt.datetime,
    source: ScoreboardSource | None = None,
) -> list[Payload]:
    """The ephemeral replies to an "Open scoreboard" click by Slack user `clicker` on the
    alert message at (channel, ts) whose button carries `value` ("rule|subject")."""
    viewer = viewer_for(session, clicker)
    if viewer is None:
        return [_text("I don't know you yet: ask your RevOps admin to add you to Drumbeat.")]
    try:
        _rule, subject = parse_action_value(value)
    except ValueError:
        return [_text("This alert is no longer tracked.")]
    subjects = (
        [subject] if subject != "group" else _message_subjects(session, channel=channel, ts=ts)
    )
    if not subjects:
        return [_text("This alert is no longer tracked.")]
    boards = source if source is not None else MetricsScoreboards()
    shown = _boards(session, subjects)
    kept = shown if len(shown) <= MAX_BOARDS else shown[: MAX_BOARDS - 1]
    out = [_board(session, config, viewer, kind, key, now, boards) for kind, key in kept]
    if len(kept) < len(shown):
        out.append(_text(f"…and {len(shown) - len(kept)} more: use `/scoreboard TEAM`."))
    return out


def _board(
    session: Session,
    config: OrgConfig,
    viewer: Person,
    kind: str,
    key: str | int,
    now: dt.datetime,
    boards: ScoreboardSource,
) -> Payload:
    currency = config.currency.reporting
    if kind == "person":
        person = session.get(Person, int(key))
        if person is None:
            return _text("That person is no longer in Drumbeat.")
        decision = can_view_person(viewer, person, config)
        if not decision.allowed:
            return _text(decision.reason)
        zone = person_timezone(person, config.org.timezone)
        day = now.astimezone(ZoneInfo(zone)).date()  # the person's own today
        board = boards.person_scoreboard(
            session, config=config, person_id=person.id, day=day, as_of=now
        )
        payload = rep_message(board, currency=currency)
        if person.id != viewer.id:  # "Your scoreboard" is the rep's own DM's title
            head = payload["blocks"][0]["text"]
            head["text"] = head["text"].replace("Your scoreboard", f"{person.name}'s scoreboard")[
                :150
            ]
        return payload
    if kind == "team":
        team = config.team(str(key))
        decision = can_view_team(viewer, str(key), config)
        if not decision.allowed:
            return _text(decision.reason)
        zone = person_timezone(viewer, config.org.timezone)
        day = now.astimezone(ZoneInfo(zone)).date()  # a team has no zone: the viewer's today
        team_boards = boards.team_scoreboards(
            session, config=config, team_key=str(key), day=day, as_of=now
        )
        return team_message(
            team.name if team else str(key),
            team_boards,
            day,
            currency=currency,
            team_key=str(key),
            named=sees_teammates(viewer, config),
        )
    return _text(
        "Scoreboards are per person or team: `/metric calls org` shows the org's numbers, "
        "and the control tower the teams side by side."
    )
