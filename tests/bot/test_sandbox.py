"""The sandbox Slack behaves like Slack where Drumbeat depends on it (real HTTP, loopback)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import RateLimits, SlackSandbox
from bot.sandbox.users import generate_users, seed_from_config
from rhythms.config import load_org_config
from tests.bot.slack_env import TOKEN, sandbox
from tests.conftest import EXAMPLE_CONFIG


async def api(
    sb: SlackSandbox, method: str, token: str | None = TOKEN, **body: Any
) -> tuple[int, dict[str, Any], Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as http,
        http.post(sb.api_url + method, json=body, headers=headers) as resp,
    ):
        return resp.status, await resp.json(), resp.headers


def client_for(sb: SlackSandbox, session: aiohttp.ClientSession) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=sb.api_url, session=session, retry_handlers=[])


def test_token_and_required_arguments_are_checked() -> None:
    async def scenario() -> None:
        with sandbox() as sb:
            assert (await api(sb, "auth.test", token=None))[1]["error"] == "not_authed"
            assert (await api(sb, "auth.test", token="xoxb-wrong"))[1]["error"] == "invalid_auth"
            status, body, _ = await api(sb, "chat.postMessage", text="hi")
            assert (status, body["error"]) == (200, "invalid_arguments")
            assert "missing required field: channel" in body["response_metadata"]["messages"][0]
            assert (await api(sb, "chat.postMessage", channel="#nope", text="x"))[1][
                "error"
            ] == "channel_not_found"
            assert (await api(sb, "no.such.method"))[0] == 404

    asyncio.run(scenario())


def test_a_message_breaking_block_kit_limits_is_refused() -> None:
    async def scenario() -> None:
        with sandbox() as sb:
            channel = sb.state.add_channel("#team")
            async with aiohttp.ClientSession() as session:
                client = client_for(sb, session)
                too_many = [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * 51
                with pytest.raises(SlackApiError) as refused:
                    await client.chat_postMessage(channel=channel, text="t", blocks=too_many)
                assert refused.value.response["error"] == "invalid_blocks"
                assert "no more than 50 items" in refused.value.response["errors"][0]
                ok = await client.chat_postMessage(channel=channel, text="t", blocks=too_many[:50])
                assert ok["ok"]
            assert len(sb.state.messages(channel)) == 1

    asyncio.run(scenario())


def test_rate_limits_answer_429_with_retry_after_and_can_be_switched_off() -> None:
    async def scenario() -> None:
        limits = RateLimits(retry_after=0.25)
        with sandbox(limits=limits) as sb:
            channel = sb.state.add_channel("#busy")
            answers = [
                await api(sb, "chat.postMessage", channel=channel, text=str(i)) for i in range(6)
            ]
            limited = [a for a in answers if a[0] == 429]
            assert limited and limited[0][1] == {"ok": False, "error": "ratelimited"}
            assert limited[0][2]["Retry-After"] == "0.25"
            assert len(sb.state.messages(channel)) == 6 - len(limited)
            limits.enabled = False
            unlimited = [
                await api(sb, "chat.postMessage", channel=channel, text="x") for _ in "abc"
            ]
            assert [a[0] for a in unlimited] == [200, 200, 200]

    asyncio.run(scenario())


def test_users_list_pages_and_history_returns_metadata_only_when_asked() -> None:
    async def scenario() -> None:
        with sandbox(limits=RateLimits(enabled=False)) as sb:
            ids = generate_users(sb.state, 450)
            async with aiohttp.ClientSession() as session:
                client = client_for(sb, session)
                seen, cursor, pages = [], None, 0
                while True:
                    page = await client.users_list(limit=200, cursor=cursor)
                    seen += [m["id"] for m in page["members"]]
                    pages += 1
                    cursor = page["response_metadata"]["next_cursor"]
                    if not cursor:
                        break
                assert pages == 3 and set(ids) <= set(seen)
                meta = {"event_type": "drumbeat_delivery", "event_payload": {"delivery_id": 7}}
                posted = await client.chat_postMessage(channel=ids[0], text="hi", metadata=meta)
                plain = await client.conversations_history(channel=posted["channel"])
                full = await client.conversations_history(
                    channel=posted["channel"], include_all_metadata=True
                )
                assert "metadata" not in plain["messages"][0]
                assert full["messages"][0]["metadata"] == meta

    asyncio.run(scenario())


def test_views_need_a_fresh_trigger_and_valid_titles() -> None:
    async def scenario() -> None:
        with sandbox() as sb:
            sb.state.add_user("U1", name="u1")
            view = {"type": "modal", "title": {"type": "plain_text", "text": "MAPLE"}, "blocks": []}
            async with aiohttp.ClientSession() as session:
                client = client_for(sb, session)
                trigger = sb.new_trigger("U1")
                opened = await client.views_open(trigger_id=trigger, view=view)
                with pytest.raises(SlackApiError) as reused:
                    await client.views_open(trigger_id=trigger, view=view)
                assert reused.value.response["error"] == "invalid_trigger_id"
                long_title = dict(view, title={"type": "plain_text", "text": "x" * 25})
                with pytest.raises(SlackApiError) as bad:
                    await client.views_open(trigger_id=sb.new_trigger("U1"), view=long_title)
                assert bad.value.response["error"] == "invalid_arguments"
                updated = dict(view, title={"type": "plain_text", "text": "MAPLE (saved)"})
                await client.views_update(view_id=opened["view"]["id"], view=updated)
            (stored,) = sb.state.open_views("U1")
            assert stored["title"]["text"] == "MAPLE (saved)"

    asyncio.run(scenario())


def test_seeding_from_the_org_config() -> None:
    cfg = load_org_config(EXAMPLE_CONFIG)
    with sandbox() as sb:
        ids = seed_from_config(sb.state, cfg)
        assert set(ids) == {p.email for p in cfg.people}
        assert sb.state.channel_by_name(cfg.slack.admin_channel or "") is not None
        team = cfg.teams[0]
        channel = sb.state.channel_by_name(team.channel or "")
        assert channel is not None
        members = {ids[p.email] for p in cfg.people if p.team == team.key}
        assert members <= channel.members
