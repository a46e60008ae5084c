"""Leaders over signed HTTP against the sandbox: "How is this computed?" on the control
tower counts as a use of the tower (under its configured name), `/scoreboard` counts as a
command of its own, and where scoreboards are private `/metric @rep public` is refused
while the private answer and a team's public one still work."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox.users import seed_from_config
from metrics.clock import TravellingClock
from metrics.models import MetricDaily
from rhythms.config import OrgConfig, parse_org_config
from rhythms.control_tower_message import EXPLAIN_ACTION
from rhythms.models import Interaction
from tests.bot.slack_env import bot, eventually, sandbox
from tests.support.leaders import leaders_data, seed

NOW = dt.datetime(2026, 11, 25, 21, 0, tzinfo=dt.UTC)  # Wed 16:00 New York
LEO_CALLS = 37


def _config() -> OrgConfig:
    data = leaders_data(transparent=False)
    data["rhythms"]["cro_tower"] = {**data["rhythms"].pop("control_tower"), "kind": "control_tower"}
    return parse_org_config(data)


def _text(post: dict[str, Any]) -> str:
    return str(post.get("text", "")) + json.dumps(post.get("blocks") or [], ensure_ascii=False)


def test_explain_clicks_scoreboard_commands_and_private_public_posts(
    session_factory: sessionmaker[Session],
) -> None:
    cfg = _config()
    people = seed(session_factory, cfg)
    with session_factory() as session:
        session.add(
            MetricDaily(
                person_id=people["leo"].id,
                metric="calls",
                day=NOW.date(),
                value=LEO_CALLS,
                team_key="sdr",
            )
        )
        session.commit()

    async def scenario() -> list[dict[str, Any]]:
        with sandbox() as sb:
            seed_from_config(sb.state, cfg)
            async with bot(sb, session_factory, clock=TravellingClock(NOW), config=cfg) as b:
                assert b.driver is not None
                answers: list[dict[str, Any]] = []
                clicked = await b.driver.block_actions(
                    user="UOLIVIA",
                    actions=[
                        {"action_id": EXPLAIN_ACTION, "type": "button", "value": "control_tower"}
                    ],
                    channel="D1",
                    message_ts="1.0",
                )
                assert clicked.status == 200
                answers.append((await eventually(lambda: sb.state.response_posts()))[0])
                for who, command, text in (
                    ("UMARIA", "/scoreboard", ""),
                    ("UMARIA", "/metric", "calls @leo public"),
                    ("UMARIA", "/metric", "calls @leo"),
                    ("UMARIA", "/metric", "calls sdr public"),
                ):
                    n = len(sb.state.response_posts())
                    reply = await b.driver.slash_command(command, text, user=who, channel="C1")
                    assert reply.status == 200
                    posts = await eventually(lambda n=n: sb.state.response_posts()[n:], within=10)
                    answers.append(posts[0])
                return answers

    explained, board, refused, private, team = asyncio.run(scenario())
    assert "How is this computed? · Control tower" in _text(explained)
    assert "📋 SDR East scoreboard" in _text(board) and "📋 SDR West scoreboard" in _text(board)
    assert refused["ephemeral"] and "Scoreboards are private" in _text(refused)
    assert "without `public`" in _text(refused) and str(LEO_CALLS) not in _text(refused)
    assert (
        private["ephemeral"] and private["text"] == f"Calls · Leo Martin · today: {LEO_CALLS} of 10"
    )
    assert not team["ephemeral"] and "Calls · SDR East" in _text(team)
    with session_factory() as session:
        used = [
            (i.slack_user_id, i.rhythm, i.kind, i.name)
            for i in session.scalars(select(Interaction).order_by(Interaction.id))
        ]
    assert used[0] == ("UOLIVIA", "cro_tower", "action", "explain_metric")
    assert used[1] == ("UMARIA", None, "command", "scoreboard")
    assert [u[3] for u in used[2:]] == ["metric", "metric", "metric"]
