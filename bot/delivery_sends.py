"""One delivery's Slack calls, by kind: what the sender does to post, update, publish or
upload a claimed delivery once, and how Slack's answer reads as a `Result`.

    sends = DeliverySends(client, caller, finder)
    result = await sends.send(claimed)   # sent (channel, ts) | retry | dead | ambiguous

Retries, reconciliation and recording are the sender's (`bot.sender`); the calls' failure
modes are sorted out by `bot.slack_calls.SlackCaller`. DMs go to the user id directly;
every message carries the delivery id in its metadata and every upload in its file name
(`bot.reconcile`), so a lost answer can be looked up.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot import delivery_claims as claims
from bot.reconcile import Finder, delivery_metadata, tagged_filename
from bot.slack_calls import Outcome, SlackCaller


@dataclass
class Result:
    """How a send ended: sent (channel, ts), retry later, or dead."""

    status: str  # sent | retry | dead | released | ambiguous | paused | expired
    channel: str | None = None
    ts: str | None = None
    error: str | None = None


class DeliverySends:
    def __init__(self, client: AsyncWebClient, caller: SlackCaller, finder: Finder) -> None:
        self.client = client
        self.caller = caller
        self.finder = finder

    async def send(self, delivery: claims.Claimed) -> Result:
        """Make the Slack call(s) of one delivery, once (no retries here)."""
        try:
            payload = delivery.payload  # decoded here, per send (see `Claimed`)
        except ValueError as exc:
            return Result("dead", error=f"invalid_arguments: {exc}"[:500])
        if delivery.kind == "message":  # nearly every delivery: no dispatch table per send
            return await self._message(delivery, payload)
        send = {
            "ephemeral": self._ephemeral,
            "update": self._update,
            "upload": self._upload,
            "view_publish": self._view_publish,
        }.get(delivery.kind)
        if send is None:
            return Result("dead", error=f"unknown delivery kind {delivery.kind!r}")
        return await send(delivery, payload)

    async def _message(self, d: claims.Claimed, p: dict[str, Any]) -> Result:
        channel = d.parent_channel or d.recipient
        kwargs: dict[str, Any] = {
            "channel": channel,
            "text": p["text"],
            "metadata": delivery_metadata(d.id),
            "unfurl_links": False,
        }
        if p.get("blocks"):
            kwargs["blocks"] = p["blocks"]
        if d.parent_ts:
            kwargs["thread_ts"] = d.parent_ts
        out = await self.caller.call("chat.postMessage", self._post_message, **kwargs)
        return _result(out, lambda data: (data.get("channel"), data.get("ts")))

    async def _post_message(self, **kwargs: Any) -> AsyncSlackResponse:
        """`chat.postMessage` through the client's public `api_call`, as `chat_postMessage`
        sends it (a JSON body without nulls), minus its per-block walk for Block Kit
        *objects*: outbox payloads are plain JSON, so that walk (~20 µs a message) never
        changes anything."""
        body = {key: value for key, value in kwargs.items() if value is not None}
        return await self.client.api_call("chat.postMessage", json=body)

    async def _ephemeral(self, d: claims.Claimed, p: dict[str, Any]) -> Result:
        kwargs: dict[str, Any] = {"channel": d.recipient, "user": p["user"], "text": p["text"]}
        if p.get("blocks"):
            kwargs["blocks"] = p["blocks"]
        out = await self.caller.call("chat.postEphemeral", self.client.chat_postEphemeral, **kwargs)
        return _result(out, lambda data: (d.recipient, data.get("message_ts")))

    async def _update(self, d: claims.Claimed, p: dict[str, Any]) -> Result:
        if not (d.parent_channel and d.parent_ts):
            return Result("dead", error="message_not_found")
        kwargs: dict[str, Any] = {"channel": d.parent_channel, "ts": d.parent_ts, "text": p["text"]}
        if p.get("blocks"):
            kwargs["blocks"] = p["blocks"]
        out = await self.caller.call("chat.update", self.client.chat_update, **kwargs)
        return _result(out, lambda data: (data.get("channel"), data.get("ts")))

    async def _view_publish(self, d: claims.Claimed, p: dict[str, Any]) -> Result:
        out = await self.caller.call(
            "views.publish", self.client.views_publish, user_id=d.recipient, view=p["view"]
        )
        return _result(out, lambda data: (None, None))

    async def _upload(self, d: claims.Claimed, p: dict[str, Any]) -> Result:
        try:
            content = base64.b64decode(str(p["content_base64"]), validate=True)
        except (binascii.Error, ValueError):
            return Result("dead", error="invalid_arguments: content_base64 is not base64")
        channel, failed = await self.finder.channel_id(d.parent_channel or d.recipient)
        if channel is None:
            assert failed is not None
            return _result(failed, lambda data: (None, None))
        name = tagged_filename(str(p["filename"]), d.id)
        got = await self.caller.call(
            "files.getUploadURLExternal",
            self.client.files_getUploadURLExternal,
            filename=name,
            length=len(content),
        )
        if not got.ok:
            return _result(got, lambda data: (None, None), ambiguous_is_retry=True)
        try:
            async with self.client.session.post(got.data["upload_url"], data=content) as resp:  # type: ignore[union-attr]
                if resp.status != 200:
                    return Result("retry", error=f"upload_failed: HTTP {resp.status}")
        except (TimeoutError, aiohttp.ClientError) as exc:
            return Result("retry", error=f"upload_failed: {type(exc).__name__}")
        kwargs: dict[str, Any] = {
            "files": [{"id": got.data["file_id"], "title": p["title"]}],
            "channel_id": channel,
        }
        if p.get("comment"):
            kwargs["initial_comment"] = p["comment"]
        if d.parent_ts:
            kwargs["thread_ts"] = d.parent_ts
        done = await self.caller.call(
            "files.completeUploadExternal", self.client.files_completeUploadExternal, **kwargs
        )
        shared = (done.data.get("files") or [{}])[0] if done.ok else {}
        return _result(done, lambda data: (channel, shared.get("ts")))


def _result(
    out: Outcome,
    where: Callable[[dict[str, Any]], tuple[Any, Any]],
    *,
    ambiguous_is_retry: bool = False,
) -> Result:
    if out.ok:
        channel, ts = where(out.data)
        return Result("sent", channel=channel, ts=ts)
    if out.kind == "permanent":
        return Result("dead", error=out.error)
    if out.kind == "auth":  # the bot's token or app, not this delivery: pause sending
        return Result("paused", error=out.error)
    if out.kind == "ambiguous" and not ambiguous_is_retry:
        return Result("ambiguous", error=out.error)
    return Result("retry", error=out.error)
