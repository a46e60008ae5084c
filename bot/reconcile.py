"""Was it posted? Look a delivery up in Slack after an answer was lost.

Every message Drumbeat posts carries message metadata
``{"event_type": "drumbeat_delivery", "event_payload": {"delivery_id": N}}`` and every chart
it uploads is named ``<name>.d<N>.<ext>``. After a crash or a timeout, the sender reads the
conversation's recent history, newest first (``conversations.history`` with
``include_all_metadata``, or ``conversations.replies`` for a thread), and looks for the id.
No ``oldest`` bound: our clock (injected, possibly travelling in a demo) need not agree with
Slack's timestamps; instead the walk stops after `MAX_PAGES` pages of 200 messages, far more
than a conversation receives while a claim is outstanding.
Found: the delivery is recorded as sent with that ts, never posted again. Not found: it was
never posted, so posting it now is safe.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_calls import Outcome, SlackCaller

EVENT_TYPE = "drumbeat_delivery"
MAX_PAGES = 20
CONVERSATION_ID = re.compile(r"^[CDG][A-Z0-9]{6,}$")


def delivery_metadata(delivery_id: int) -> dict[str, Any]:
    return {"event_type": EVENT_TYPE, "event_payload": {"delivery_id": delivery_id}}


def tagged_filename(filename: str, delivery_id: int) -> str:
    """``chart.png`` → ``chart.d42.png``: the upload's name carries the delivery id."""
    path = PurePosixPath(filename)
    return f"{path.stem}.d{delivery_id}{path.suffix}"


def _is_delivery(message: dict[str, Any], delivery_id: int) -> bool:
    meta = message.get("metadata") or {}
    payload = meta.get("event_payload") or {}
    return bool(meta.get("event_type") == EVENT_TYPE and payload.get("delivery_id") == delivery_id)


def _has_file(message: dict[str, Any], name: str) -> bool:
    return any(f.get("name") == name for f in message.get("files") or [])


class Finder:
    """Looks deliveries up in Slack through the rate-limited caller."""

    def __init__(self, client: AsyncWebClient, caller: SlackCaller) -> None:
        self.client = client
        self.caller = caller
        self._ids: dict[str, str] = {}  # user id / name -> conversation id

    async def channel_id(self, recipient: str) -> tuple[str | None, Outcome | None]:
        """The conversation id for a user id (its DM), a ``#name`` or an id; else an error.

        Slack's history and file-sharing methods take ids only (chat.postMessage also
        takes names and user ids), so names and DMs are resolved here, and cached.
        """
        if CONVERSATION_ID.match(recipient):
            return recipient, None
        if recipient in self._ids:
            return self._ids[recipient], None
        if recipient.startswith(("U", "W")):
            out = await self.caller.call(
                "conversations.open", self.client.conversations_open, users=recipient
            )
            if not out.ok:
                return None, out
            self._ids[recipient] = str(out.data["channel"]["id"])
            return self._ids[recipient], None
        return await self._by_name(recipient)

    async def _by_name(self, recipient: str) -> tuple[str | None, Outcome | None]:
        wanted = recipient.lstrip("#").lower()
        cursor: str | None = None
        for _ in range(MAX_PAGES * 5):
            kwargs: dict[str, Any] = {"limit": 1000, "exclude_archived": True}
            kwargs["types"] = "public_channel,private_channel"
            if cursor:
                kwargs["cursor"] = cursor
            out = await self.caller.call(
                "conversations.list", self.client.conversations_list, **kwargs
            )
            if not out.ok:
                return None, out
            for channel in out.data.get("channels") or []:
                self._ids[f"#{channel['name']}"] = str(channel["id"])
                self._ids[str(channel["name"])] = str(channel["id"])
            if wanted in self._ids:
                return self._ids[wanted], None
            cursor = (out.data.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return None, Outcome("permanent", error="channel_not_found")

    async def find(
        self,
        *,
        recipient: str,
        delivery_id: int,
        thread_ts: str | None = None,
        filename: str | None = None,
    ) -> tuple[dict[str, Any] | None, Outcome | None]:
        """The message (with ``channel`` set) posted for the delivery, or None.

        The second value is an error outcome when Slack could not be asked; then the caller
        must not assume the delivery is absent.
        """
        channel, failed = await self.channel_id(recipient)
        if channel is None:
            return None, failed
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            kwargs: dict[str, Any] = {"channel": channel, "limit": 200}
            kwargs["include_all_metadata"] = True
            if cursor:
                kwargs["cursor"] = cursor
            if thread_ts:
                out = await self.caller.call(
                    "conversations.replies",
                    self.client.conversations_replies,
                    ts=thread_ts,
                    **kwargs,
                )
            else:
                out = await self.caller.call(
                    "conversations.history",
                    self.client.conversations_history,
                    **kwargs,
                )
            if not out.ok:
                return None, out
            for message in out.data.get("messages") or []:
                if _has_file(message, filename) if filename else _is_delivery(message, delivery_id):
                    return dict(message, channel=channel), None
            cursor = (out.data.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None, None
        return None, Outcome("retryable", error="history too long to search")
