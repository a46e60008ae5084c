"""A missing OAuth scope stops one Web API method, not the token: the deliveries that need it
are dead with Slack's `needed` scope in their error, the admins get one notice naming it, and
everything else keeps being sent (no pause, `/healthz` stays healthy). Sandbox Slack whose
token lacks the scopes manifest.yml used to lack (`channels:read`, `groups:read`)."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.failures import ADMIN_RHYTHM, is_global
from bot.sandbox import SlackSandbox, running_sandbox
from tests.bot.slack_env import TOKEN, bot, fast_limits
from tests.bot.test_manifest_scopes import manifest_scopes
from tests.bot.test_sender import PNG, add, rows

WITHOUT = {"channels:read", "groups:read"}


def test_a_missing_scope_kills_the_deliveries_that_need_it_and_pauses_nothing(
    session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    chart = {"filename": "pipeline.png", "title": "Pipeline", "content_base64": PNG}

    async def scenario() -> None:
        scopes = manifest_scopes() - WITHOUT
        with running_sandbox(token=TOKEN, limits=fast_limits(), scopes=scopes) as sb:
            revops = sb.state.add_channel("#revops")
            sb.state.add_channel("#sales")
            sb.state.add_channel("#cs")
            sb.state.add_user("U0A", name="a")
            uploads = [
                add(session_factory, name, part="chart", kind="upload", payload=chart)
                for name in ("#sales", "#cs")
            ]
            dms = [add(session_factory, "U0A", part=f"dm{i}") for i in range(3)]
            async with bot(sb, session_factory, http=False) as b:
                sender = b.sender(session_factory, admin_channel="#revops")
                await sender.drain()
                await sender.drain()  # the notice itself
                assert sender.health() == {"ok": True, "sender": "ok"}
                assert sender.auth_error is None
            done = rows(session_factory)
            for upload in uploads:
                assert done[upload].status == "dead"
                assert done[upload].error == (
                    "missing_scope: conversations.list needs channels:read,groups:read"
                )
            assert all(done[d].status == "sent" for d in dms)
            assert len(sb.state.dm_messages("U0A")) == 3
            notices = [r for r in done.values() if r.rhythm == ADMIN_RHYTHM]
            assert len(notices) == 1 and notices[0].status == "sent"
            (text,) = [m["text"] for m in sb.state.messages(revops)]
            assert "channels:read,groups:read" in text and "2 recipients" in text
            assert "manifest.yml" in text
            scope_calls = [c for c in sb.calls if c.error == "missing_scope"]
            assert scope_calls and all(c.method == "conversations.list" for c in scope_calls)

    with caplog.at_level(logging.INFO):
        asyncio.run(scenario())
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "refuses the bot token" not in caplog.text


def test_missing_scope_is_not_a_token_error() -> None:
    assert not is_global("missing_scope")


def test_the_sandbox_answers_missing_scope_like_slack() -> None:
    """Slack's error body for a missing scope carries `needed` and `provided` (the Web API
    spec's error schema); the sandbox checks per conversation type."""

    async def call(sb: SlackSandbox, method: str, **args: str) -> dict[str, object]:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with (
            aiohttp.ClientSession() as http,
            http.post(sb.api_url + method, data=args, headers=headers) as resp,
        ):
            return dict(await resp.json())

    async def scenario(sb: SlackSandbox) -> None:
        assert (await call(sb, "conversations.list"))["ok"] is True  # public channels only
        assert await call(sb, "conversations.list", types="public_channel,im") == {
            "ok": False,
            "error": "missing_scope",
            "needed": "im:read",
            "provided": "channels:read,chat:write",
        }
        assert (await call(sb, "chat.postMessage", channel="#sales", text="hi"))["ok"] is True
        assert (await call(sb, "users.list"))["needed"] == "users:read"

    with running_sandbox(token=TOKEN, scopes={"chat:write", "channels:read"}) as sb:
        sb.state.add_channel("#sales")
        asyncio.run(scenario(sb))
