"""Which rhythms get used: a run's message and its chart to one person are one send, slash
commands are lines of their own (not the daily DM's), and the App Home switchboard shows
each rhythm's use next to its switch."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox.blockkit import validate_blocks
from rhythms.home_view import switchboard_blocks
from rhythms.models import Delivery, Interaction
from rhythms.switchboard import CommandUsage, Usage, command_usage, set_rhythm_for_team, usage
from rhythms.switchboard_commands import rhythms_reply
from tests.support.leaders import leaders_org, seed

NOW = dt.datetime(2026, 11, 25, 21, 0, tzinfo=dt.UTC)
NY = "America/New_York"


def _sent(
    rhythm: str,
    period: str,
    recipient: str,
    part: str,
    kind: str = "message",
    status: str = "sent",
) -> Delivery:
    return Delivery(
        rhythm=rhythm,
        period_key=period,
        recipient=recipient,
        part=part,
        kind=kind,
        payload={"text": "x"},
        status=status,
        sent_at=NOW - dt.timedelta(hours=2) if status == "sent" else None,
        not_before=NOW - dt.timedelta(hours=3),
        created_at=NOW - dt.timedelta(hours=3),
    )


def _use(user: str, name: str, rhythm: str | None = None, kind: str = "command") -> Interaction:
    return Interaction(
        at=NOW - dt.timedelta(hours=1), slack_user_id=user, rhythm=rhythm, kind=kind, name=name
    )


def _seed_use(factory: sessionmaker[Session]) -> None:
    with factory() as session:
        session.add_all(
            [
                # the tower: a message and its chart to the CRO, two mornings
                _sent("control_tower", "control_tower:2026-11-24", "UOLIVIA", "main"),
                _sent("control_tower", "control_tower:2026-11-24", "UOLIVIA", "chart", "upload"),
                _sent("control_tower", "control_tower:2026-11-25", "UOLIVIA", "main"),
                _sent("control_tower", "control_tower:2026-11-25", "UOLIVIA", "chart", "upload"),
                # the team scoreboard: Maria's two boards are one send, the channel another;
                # an unsent delivery and a message edit are no sends
                _sent("team_scoreboard", "team_scoreboard:2026-11-25", "UMARIA", "team:sdr"),
                _sent("team_scoreboard", "team_scoreboard:2026-11-25", "UMARIA", "team:sdrw"),
                _sent("team_scoreboard", "team_scoreboard:2026-11-25", "#sdr", "team:sdr"),
                _sent(
                    "team_scoreboard",
                    "team_scoreboard:2026-11-25",
                    "UTOM",
                    "team:ae",
                    status="pending",
                ),
                _sent("team_scoreboard", "team_scoreboard:2026-11-25", "#sdr", "edit", "update"),
                _use("UOLIVIA", "explain_metric", "control_tower", "action"),
                _use("UMARIA", "scoreboard"),
                _use("UMARIA", "scoreboard"),
                _use("UTOM", "scoreboard"),
                _use("USAM", "drumbeat rhythms"),
                _use("UDANA", "app_home_opened", kind="home"),
                # long ago: outside the 30 days
                Interaction(
                    at=NOW - dt.timedelta(days=40),
                    slack_user_id="UBEN",
                    kind="command",
                    name="metric",
                ),
            ]
        )
        session.commit()


def test_a_runs_message_and_chart_are_one_send_and_commands_count_apart(
    session_factory: sessionmaker[Session],
) -> None:
    _seed_use(session_factory)
    since = NOW - dt.timedelta(days=30)
    with session_factory() as session:
        used = usage(session, since=since)
        commands = command_usage(session, since=since)
    assert used == {
        "control_tower": Usage(sent=2, interactions=1, people=1),
        "team_scoreboard": Usage(sent=2, interactions=0, people=0),
    }
    assert commands == {
        "/scoreboard": CommandUsage(uses=3, people=2),
        "/drumbeat": CommandUsage(uses=1, people=1),
        "App Home": CommandUsage(uses=1, people=1),
    }


def test_drumbeat_rhythms_and_the_app_home_show_use_next_to_each_switch(
    session_factory: sessionmaker[Session],
) -> None:
    cfg = leaders_org()
    seed(session_factory, cfg)
    _seed_use(session_factory)
    with session_factory() as session:
        set_rhythm_for_team(
            session,
            config=cfg,
            name="team_scoreboard",
            team_key="sdrw",
            enabled=False,
            actor="USAM",
            now=NOW,
        )
        session.commit()
        reply = rhythms_reply(session, config=cfg, now=NOW, zone=NY)
        home = switchboard_blocks(session, config=cfg, now=NOW, zone=NY)
    assert validate_blocks(reply.blocks) == [] and validate_blocks(home) == []
    listed = json.dumps(reply.blocks, ensure_ascii=False)
    tower_line = "*control_tower* `30 8 * * mon-fri` · next Thu Nov 26 08:30 · "
    assert tower_line + "2 sent, 1 interactions by 1 people" in listed
    assert "*/scoreboard* · 3 uses by 2 people" in listed
    assert "*/drumbeat* · 1 use by 1 person" in listed
    assert "*App Home* · 1 use by 1 person" in listed
    texts = [b["text"]["text"] for b in home if b["type"] == "section"]
    tower = next(t for t in texts if "*control_tower*" in t)
    assert tower.endswith("\n30 days: 2 sent, 1 interactions by 1 person")
    board = next(t for t in texts if "*team_scoreboard*" in t)
    assert board.endswith(
        "\n30 days: 2 sent, 0 interactions by 0 people\nOff for SDR West (`sdrw`)"
    )
    assert next(t for t in texts if "*maple*" in t).endswith("\nno use in 30 days")
