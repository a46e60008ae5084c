"""The Bolt app over real HTTP, driven by the sandbox like Slack drives it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from metrics.models import Person
from rhythms.models import Interaction
from tests.bot.slack_env import bot, eventually, sandbox


def test_signed_slash_command_is_acked_fast_and_answered(
    session_factory: sessionmaker[Session],
) -> None:
    async def scenario() -> None:
        with sandbox() as sb:
            sb.state.add_user("U0REP1", name="dana", email="dana@acme.example")
            async with bot(sb, session_factory) as b:
                assert b.driver is not None
                reply = await b.driver.slash_command(
                    "/drumbeat", "help", user="U0REP1", channel="C0TEAM"
                )
                assert reply.status == 200
                assert reply.elapsed < 3.0
                answers = await eventually(lambda: sb.state.ephemerals("U0REP1"))
                assert "/drumbeat help" in answers[0]["text"]
                unknown = await b.driver.slash_command(
                    "/drumbeat", "frobnicate", user="U0REP1", channel="C0TEAM"
                )
                assert unknown.status == 200
                answers = await eventually(
                    lambda: (
                        len(sb.state.ephemerals("U0REP1")) == 2 and sb.state.ephemerals("U0REP1")
                    )
                )
                assert "frobnicate" in answers[1]["text"]

        with session_factory() as session:
            names = session.scalars(select(Interaction.name)).all()
        assert sorted(names) == ["drumbeat frobnicate", "drumbeat help"]

    asyncio.run(scenario())


def test_forged_and_stale_signatures_are_rejected(
    session_factory: sessionmaker[Session],
) -> None:
    async def scenario() -> None:
        with sandbox() as sb:
            async with bot(sb, session_factory) as b:
                assert b.driver is not None
                forged = await b.driver.slash_command(
                    "/drumbeat", "help", user="U1", channel="C1", secret="not-the-secret"
                )
                stale = await b.driver.slash_command(
                    "/drumbeat",
                    "help",
                    user="U1",
                    channel="C1",
                    timestamp=int(time.time()) - 6 * 60,
                )
                fresh = await b.driver.slash_command("/drumbeat", "help", user="U1", channel="C1")
                async with b.session.post(
                    b.driver.bot_url, data=b"command=%2Fdrumbeat&text=help"
                ) as unsigned:
                    unsigned_status = unsigned.status
                assert (forged.status, stale.status, unsigned_status) == (401, 401, 401)
                assert fresh.status == 200
                await eventually(lambda: sb.state.response_posts())
                assert len(sb.state.response_posts()) == 1  # only the genuine one answered

    asyncio.run(scenario())


def test_app_home_opened_publishes_the_home_tab(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session, session.begin():
        session.add(
            Person(email="dana@acme.example", name="Dana Diaz", role="rep", slack_user_id="U0DANA")
        )

    async def scenario() -> None:
        with sandbox() as sb:
            sb.state.add_user("U0DANA", name="dana", email="dana@acme.example")
            sb.state.add_user("U0GHOST", name="ghost", email="ghost@acme.example")
            async with bot(sb, session_factory) as b:
                assert b.driver is not None
                assert (await b.driver.app_home_opened("U0DANA")).status == 200
                assert (await b.driver.app_home_opened("U0GHOST")).status == 200
                home = await eventually(lambda: sb.state.home_view("U0DANA"))
                ghost = await eventually(lambda: sb.state.home_view("U0GHOST"))
                assert b.server is not None
                async with (
                    aiohttp.ClientSession() as http,
                    http.get(b.server.url + "/healthz") as health,
                ):
                    assert health.status == 200
        texts = " ".join(str(block) for block in home["blocks"])
        assert "Dana Diaz" in texts
        assert "don't know you" in " ".join(str(block) for block in ghost["blocks"])

    asyncio.run(scenario())


def test_driver_interactions_open_and_submit_a_modal(
    session_factory: sessionmaker[Session],
) -> None:
    submitted: list[dict[str, object]] = []

    async def scenario() -> None:
        with sandbox() as sb:
            sb.state.add_user("U0MGR", name="maria")
            async with bot(sb, session_factory) as b:
                assert b.app is not None and b.driver is not None

                @b.app.action("open_maple")
                async def open_maple(ack: Any, body: dict[str, Any], client: Any) -> None:
                    await ack()
                    await client.views_open(trigger_id=body["trigger_id"], view=MODAL)

                @b.app.view("maple")
                async def submit(ack: Any, view: dict[str, Any]) -> None:
                    await ack()
                    submitted.append(view["state"]["values"])

                clicked = await b.driver.block_actions(
                    user="U0MGR",
                    channel="D1",
                    message_ts="1.0",
                    actions=[{"type": "button", "action_id": "open_maple", "value": "w47"}],
                )
                assert clicked.status == 200
                (opened,) = sb.state.open_views("U0MGR")
                values = {"m": {"metrics": {"type": "plain_text_input", "value": "12 meetings"}}}
                done = await b.driver.view_submission(user="U0MGR", view=opened, values=values)
                assert done.status == 200

    asyncio.run(scenario())
    assert submitted == [{"m": {"metrics": {"type": "plain_text_input", "value": "12 meetings"}}}]


MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "maple",
    "title": {"type": "plain_text", "text": "MAPLE update"},
    "submit": {"type": "plain_text", "text": "Send"},
    "blocks": [
        {
            "type": "input",
            "block_id": "m",
            "label": {"type": "plain_text", "text": "Metrics"},
            "element": {"type": "plain_text_input", "action_id": "metrics"},
        }
    ],
}
