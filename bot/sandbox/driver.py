"""Drive the bot the way Slack does: signed slash commands, interactions and events.

    driver = BotDriver(sandbox, bot_url="http://127.0.0.1:PORT/slack/events",
                       signing_secret="...", session=aiohttp_session)
    reply = await driver.slash_command("/drumbeat", "help", user="U123", channel="C1")
    reply.status, reply.elapsed, reply.body

Each request is signed like Slack signs it (``v0:{timestamp}:{body}``, HMAC-SHA256 with the
signing secret). The timestamp is wall-clock time, because the bot's verifier compares it
with wall-clock time; pass `timestamp=` to send a stale one, or `secret=` to forge one.
`response_url` and `trigger_id` values point back at the sandbox, so what the bot answers
through them lands in `sandbox.state`; so does a command's ack body that carries a message
(Slack shows it as the reply), in `state.responses` like a response_url post.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot.sandbox.server import SlackSandbox
from bot.sandbox.state import TEAM_ID

API_APP_ID = "A0DRUMBEAT"


def sign(secret: str, timestamp: int, body: str) -> str:
    """Slack's request signature for `body` sent at `timestamp`."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, body: str, content_type: str, *, timestamp: int | None = None
) -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": sign(secret, stamp, body),
    }


@dataclass
class Reply:
    status: int
    body: str
    elapsed: float  # seconds from sending to the full answer (the ack)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class BotDriver:
    """Posts Slack-shaped, signed requests to the bot's `/slack/events` endpoint."""

    def __init__(
        self,
        sandbox: SlackSandbox,
        *,
        bot_url: str,
        signing_secret: str,
        session: aiohttp.ClientSession,
    ) -> None:
        self.sandbox = sandbox
        self.bot_url = bot_url
        self.signing_secret = signing_secret
        self.session = session

    async def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> Reply:
        headers = signed_headers(
            secret or self.signing_secret, body, content_type, timestamp=timestamp
        )
        started = time.monotonic()
        async with self.session.post(self.bot_url, data=body.encode(), headers=headers) as resp:
            text = await resp.text()
        return Reply(resp.status, text, time.monotonic() - started)

    async def slash_command(
        self, command: str, text: str, *, user: str, channel: str, **signing: Any
    ) -> Reply:
        fields = {
            "token": "sandbox-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "sandbox",
            "channel_id": channel,
            "channel_name": channel.lstrip("#"),
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": API_APP_ID,
            "response_url": self.sandbox.new_response_url(user=user, channel=channel),
            "trigger_id": self.sandbox.new_trigger(user),
        }
        body = urlencode(fields)
        reply = await self.post(body, "application/x-www-form-urlencoded", **signing)
        shown = _ack_message(reply)
        if shown is not None:  # Slack shows a command's ack body to the user as the reply
            self.sandbox.command_reply(user=user, channel=channel, body=shown)
        return reply

    async def block_actions(
        self,
        *,
        user: str,
        actions: list[dict[str, Any]],
        channel: str | None = None,
        message_ts: str | None = None,
        view: dict[str, Any] | None = None,
    ) -> Reply:
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": TEAM_ID, "domain": "sandbox"},
            "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
            "api_app_id": API_APP_ID,
            "token": "sandbox-verification-token",
            "trigger_id": self.sandbox.new_trigger(user),
            "actions": [
                dict(a, action_ts=f"{time.time():.6f}", block_id=a.get("block_id", "b"))
                for a in actions
            ],
        }
        if view is not None:
            payload["container"] = {"type": "view", "view_id": view.get("id")}
            payload["view"] = view
        elif channel is not None:
            payload["container"] = {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel,
                "is_ephemeral": False,
            }
            payload["channel"] = {"id": channel}
            payload["message"] = {"ts": message_ts, "type": "message"}
            payload["response_url"] = self.sandbox.new_response_url(user=user, channel=channel)
        return await self._payload(payload)

    async def view_submission(
        self, *, user: str, view: dict[str, Any], values: dict[str, Any]
    ) -> Reply:
        """Submit an open modal with `values` ({block_id: {action_id: {type, value...}}})."""
        submitted = dict(view, state={"values": values})
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": "sandbox"},
            "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
            "api_app_id": API_APP_ID,
            "token": "sandbox-verification-token",
            "trigger_id": self.sandbox.new_trigger(user),
            "view": submitted,
            "response_urls": [],
        }
        return await self._payload(payload)

    async def event(self, event: dict[str, Any], **signing: Any) -> Reply:
        """An Events API `event_callback` wrapping `event`."""
        envelope = {
            "token": "sandbox-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": API_APP_ID,
            "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "event": event,
            "authorizations": [{"team_id": TEAM_ID, "user_id": "UBOTDRUMBEAT", "is_bot": True}],
        }
        return await self.post(json.dumps(envelope), "application/json", **signing)

    async def app_home_opened(self, user: str) -> Reply:
        dm = self.sandbox.state.dm_with(user)
        event = {
            "type": "app_home_opened",
            "user": user,
            "channel": dm.id,
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        }
        return await self.event(event)

    async def _payload(self, payload: dict[str, Any]) -> Reply:
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded")


def _ack_message(reply: Reply) -> dict[str, Any] | None:
    """The message a command's ack carries: a JSON body with text or blocks, or plain text."""
    if reply.status != 200 or not reply.body.strip():
        return None
    try:
        body = json.loads(reply.body)
    except ValueError:
        return {"text": reply.body}
    if isinstance(body, dict) and (body.get("text") or body.get("blocks")):
        return body
    return None
