"""`/scoreboard` for leaders: a bare `/scoreboard` gives a manager the boards of the teams
she covers and an exec the org's; `/scoreboard org` for whoever may see org numbers; a
leader's look at one rep's board says whose it is."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox.blockkit import validate_blocks
from metrics.models import Person
from rhythms.blocks import MESSAGE_BLOCKS_MAX, divider, header, section
from rhythms.config import OrgConfig
from rhythms.metric_answer import Refused
from rhythms.scoreboard_command import scoreboard_reply
from rhythms.scoreboard_leaders import teams_message
from tests.support.leaders import StatusBoards, leaders_org, seed

NOW = dt.datetime(2026, 11, 25, 21, 0, tzinfo=dt.UTC)  # Wed 16:00 New York


def _reply(factory: sessionmaker[Session], cfg: OrgConfig, who: Person, text: str) -> Any:
    with factory() as session:
        viewer = session.get(Person, who.id)
        payload = scoreboard_reply(
            session, config=cfg, viewer=viewer, text=text, now=NOW, source=StatusBoards()
        )
    assert validate_blocks(payload["blocks"]) == []
    assert len(payload["blocks"]) <= MESSAGE_BLOCKS_MAX
    return payload


def _headers(payload: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in payload["blocks"] if b["type"] == "header"]


def test_a_managers_own_scoreboard_is_her_teams(session_factory: sessionmaker[Session]) -> None:
    cfg = leaders_org()
    people = seed(session_factory, cfg)
    both = _reply(session_factory, cfg, people["maria"], "")
    assert _headers(both) == [
        "📋 SDR East scoreboard · Wed 25 Nov",
        "📋 SDR West scoreboard · Wed 25 Nov",
    ]
    shown = json.dumps(both["blocks"], ensure_ascii=False)
    # SDR East: Dana 12/10 green, Leo 3/10 red; SDR West: Ben green, Aisha yellow, Kim red
    assert "*1 of 2 reps winning* · 🟢 1  🟡 0  🔴 1" in shown
    assert "*1 of 3 reps winning* · 🟢 1  🟡 1  🔴 1" in shown
    assert "Kim Park" in shown and "Chloe Wu" not in shown
    west = _reply(session_factory, cfg, people["maria"], "sdrw")  # was refused
    assert _headers(west) == ["📋 SDR West scoreboard · Wed 25 Nov"]
    tom = _reply(session_factory, cfg, people["tom"], "")
    assert _headers(tom) == ["📋 Account Executives scoreboard · Wed 25 Nov"]
    rep = _reply(session_factory, cfg, people["dana"], "")
    assert _headers(rep) == ["📊 Your scoreboard · Wed 25 Nov"]


def test_the_exec_gets_the_org_and_org_is_for_whoever_sees_org_numbers(
    session_factory: sessionmaker[Session],
) -> None:
    cfg = leaders_org(transparent=False)
    people = seed(session_factory, cfg)
    bare = _reply(session_factory, cfg, people["olivia"], "")
    asked = _reply(session_factory, cfg, people["olivia"], "org")
    assert bare == asked
    assert _headers(bare) == ["📋 Acme scoreboard · Wed 25 Nov"]
    lines = json.dumps(bare["blocks"], ensure_ascii=False)
    assert "*3 of 6 reps winning* · 🟢 3  🟡 1  🔴 2" in lines
    assert "*SDR East* — 1 of 2 reps winning · 🟢 1  🟡 0  🔴 1" in lines
    assert "*SDR West* — 1 of 3 reps winning · 🟢 1  🟡 1  🔴 1" in lines
    assert "*Account Executives* — 1 of 1 rep winning · 🟢 1  🟡 0  🔴 0" in lines
    assert "Leo Martin" not in lines  # counts only: nobody's line
    assert bare["text"] == "Acme scoreboard Wed 25 Nov: 3 of 6 reps winning"
    assert _headers(_reply(session_factory, cfg, people["maria"], "org")) == [
        "📋 Acme scoreboard · Wed 25 Nov"
    ]
    with session_factory() as session, pytest.raises(Refused, match="Org-wide numbers"):
        scoreboard_reply(
            session,
            config=cfg,
            viewer=session.get(Person, people["dana"].id),
            text="org",
            now=NOW,
            source=StatusBoards(),
        )


def test_a_leaders_look_at_a_rep_names_the_rep(session_factory: sessionmaker[Session]) -> None:
    cfg = leaders_org()
    people = seed(session_factory, cfg)
    theirs = _reply(session_factory, cfg, people["maria"], "@aisha")
    assert _headers(theirs) == ["📊 Aisha Khan's scoreboard · Wed 25 Nov"]
    assert theirs["text"].startswith("Aisha Khan's scoreboard: 🟡 Close: 0 of 1 input on pace")
    own = _reply(session_factory, cfg, people["aisha"], "@aisha")
    assert _headers(own) == ["📊 Your scoreboard · Wed 25 Nov"]
    assert own["text"].startswith("🟡 Close")


def test_team_boards_too_big_for_one_message_keep_their_summaries() -> None:
    big = [
        {
            "text": f"Team {i} scoreboard",
            "blocks": [header(f"Team {i}"), section(f"summary {i}")]
            + [section(f"line {j}") for j in range(30)],
        }
        for i in range(2)
    ]
    joined = teams_message(big)
    assert joined["blocks"][:3] == [header("Team 0"), section("summary 0"), divider()]
    assert [b["type"] for b in joined["blocks"]] == [
        "header",
        "section",
        "divider",
        "header",
        "section",
        "context",
    ]
    assert joined["text"] == "Team 0 scoreboard; Team 1 scoreboard"
    small = teams_message(big[:1])
    assert small is big[0]
