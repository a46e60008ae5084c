"""The Web API methods the sandbox answers, one function per method.

Each takes the state and the merged arguments (query, form or JSON body) and returns the
response body; failures raise `SlackError`, which the server turns into Slack's error shape
``{"ok": false, "error": "...", "response_metadata": {"messages": [...]}}``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from bot.sandbox.blockkit import validate_blocks
from bot.sandbox.state import BOT_ID, BOT_USER_ID, TEAM_ID, Channel, SandboxState

MESSAGE_TEXT_MAX = 40000

# Required arguments (besides the token), from refs/slack/bot_methods_summary.json docs_required.
REQUIRED: dict[str, tuple[str, ...]] = {
    "chat.postMessage": ("channel",),
    "chat.postEphemeral": ("channel", "user"),
    "chat.update": ("channel", "ts"),
    "chat.delete": ("channel", "ts"),
    "conversations.history": ("channel",),
    "conversations.replies": ("channel", "ts"),
    "users.info": ("user",),
    "views.open": ("view",),
    "views.update": ("view",),
    "views.publish": ("user_id", "view"),
    "files.getUploadURLExternal": ("length", "filename"),
    "files.completeUploadExternal": ("files",),
    "reactions.add": ("channel", "timestamp", "name"),
}


class SlackError(Exception):
    def __init__(self, error: str, messages: list[str] | None = None, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error": self.error, **self.extra}
        if self.messages:
            body["response_metadata"] = {"messages": [f"[ERROR] {m}" for m in self.messages]}
        return body


class Context:
    """What a method needs besides its arguments: the state, base URL and live triggers."""

    def __init__(self, state: SandboxState, base_url: str) -> None:
        self.state = state
        self.base_url = base_url
        self.triggers: dict[str, tuple[float, str]] = {}  # trigger id -> (issued, user)


Method = Callable[[Context, dict[str, Any]], dict[str, Any]]


def check_required(method: str, args: dict[str, Any]) -> None:
    missing = [name for name in REQUIRED.get(method, ()) if args.get(name) in (None, "")]
    if missing:
        raise SlackError(
            "invalid_arguments", [f"missing required field: {name}" for name in missing]
        )


def json_arg(args: dict[str, Any], name: str) -> Any:
    value = args.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise SlackError(f"invalid_{name}", [f"{name} is not valid JSON"]) from exc
    return value


def _flag(args: dict[str, Any], name: str) -> bool:
    return str(args.get(name, "")).lower() in ("1", "true")


def resolve_channel(ctx: Context, ref: str, *, post: bool = True, names: bool = False) -> Channel:
    """The conversation `ref` names. Only chat.postMessage (`names=True`) takes a user id
    (its DM) or a ``#name``; every other method wants the conversation's id, like Slack."""
    state = ctx.state
    if not names and ref not in state.channels:
        raise SlackError("channel_not_found")
    if ref.startswith(("U", "W")):
        user = state.users.get(ref)
        if user is None:
            raise SlackError("channel_not_found")
        if user["deleted"]:
            raise SlackError("user_disabled")  # Slack: account_inactive is the token's
        if user["is_bot"]:
            raise SlackError("cannot_dm_bot")
        return state.dm_with(ref)
    channel = state.channels.get(ref) or state.channel_by_name(ref)
    if channel is None:
        raise SlackError("channel_not_found")
    if channel.archived:
        raise SlackError("is_archived")
    if post and BOT_USER_ID not in channel.members:
        raise SlackError("not_in_channel")
    return channel


def _check_blocks(args: dict[str, Any]) -> list[Any] | None:
    blocks = json_arg(args, "blocks")
    if blocks is None:
        return None
    problems = validate_blocks(blocks, "message")
    if problems:
        raise SlackError("invalid_blocks", problems, errors=problems)
    return list(blocks)


def find_message(channel: Channel, ts: str) -> dict[str, Any]:
    for message in channel.messages:
        if message["ts"] == ts:
            return message
    raise SlackError("message_not_found")


def auth_test(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    return {
        "ok": True,
        "url": f"{ctx.base_url}/",
        "team": "Drumbeat Sandbox",
        "user": "drumbeat",
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


def chat_post_message(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    blocks = _check_blocks(args)
    text = args.get("text") or ""
    if not text and not blocks and not args.get("attachments"):
        raise SlackError("no_text")
    if len(text) > MESSAGE_TEXT_MAX:
        raise SlackError("msg_too_long")
    metadata = json_arg(args, "metadata")
    with ctx.state.lock:
        channel = resolve_channel(ctx, str(args["channel"]), names=True)
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": text,
            "ts": ctx.state.new_ts(),
        }
        if blocks is not None:
            message["blocks"] = blocks
        if metadata:
            message["metadata"] = metadata
        thread_ts = args.get("thread_ts")
        if thread_ts:
            parent = find_message(channel, str(thread_ts))
            parent["reply_count"] = parent.get("reply_count", 0) + 1
            message["thread_ts"] = str(thread_ts)
        channel.messages.append(message)
        return {"ok": True, "channel": channel.id, "ts": message["ts"], "message": message}


def chat_post_ephemeral(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    blocks = _check_blocks(args)
    if not args.get("text") and not blocks:
        raise SlackError("no_text")
    with ctx.state.lock:
        if args["user"] not in ctx.state.users:
            raise SlackError("user_not_found")
        channel = resolve_channel(ctx, str(args["channel"]), post=False, names=True)
        item = {
            "channel": channel.id,
            "user": args["user"],
            "text": args.get("text") or "",
            "blocks": blocks,
            "message_ts": ctx.state.new_ts(),
        }
        ctx.state.ephemeral.append(item)
        return {"ok": True, "message_ts": item["message_ts"]}


def chat_update(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    blocks = _check_blocks(args)
    with ctx.state.lock:
        channel = resolve_channel(ctx, str(args["channel"]))
        message = find_message(channel, str(args["ts"]))
        if message.get("user") != BOT_USER_ID:
            raise SlackError("cant_update_message")
        if "text" in args:
            message["text"] = args["text"]
        if blocks is not None:
            message["blocks"] = blocks
        message["edited"] = {"user": BOT_USER_ID, "ts": ctx.state.new_ts()}
        return {"ok": True, "channel": channel.id, "ts": message["ts"], "text": message["text"]}


def chat_delete(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    with ctx.state.lock:
        channel = resolve_channel(ctx, str(args["channel"]))
        message = find_message(channel, str(args["ts"]))
        channel.messages.remove(message)
        return {"ok": True, "channel": channel.id, "ts": message["ts"]}


def conversations_open(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    users = str(args.get("users") or "")
    if not users and not args.get("channel"):
        raise SlackError("users_list_not_supplied")
    with ctx.state.lock:
        ref = users.split(",")[0] if users else str(args["channel"])
        channel = resolve_channel(ctx, ref, names=bool(users))
        return {"ok": True, "channel": {"id": channel.id, "is_im": channel.is_im}}


def _page(args: dict[str, Any], default: int) -> tuple[int, int]:
    cursor = str(args.get("cursor") or "")
    try:
        start = int(base64.b64decode(cursor).decode().split(":")[1]) if cursor else 0
        limit = int(args.get("limit") or default)
    except (ValueError, IndexError) as exc:
        raise SlackError("invalid_cursor") from exc
    return start, max(1, min(limit, 1000))


def _cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _paged(
    key: str, items: list[Any], start: int, limit: int, *, has_more: bool = False, shown: Any = None
) -> dict[str, Any]:
    """Slack's cursor-paged answer: `items[start:start+limit]` under `key`, the next cursor
    (empty on the last page) and, for history-like methods, `has_more`."""
    page = items[start : start + limit]
    more = start + limit < len(items)
    body: dict[str, Any] = {"ok": True, key: [shown(i) for i in page] if shown else page}
    if has_more:
        body["has_more"] = more
    body["response_metadata"] = {"next_cursor": _cursor(start + limit) if more else ""}
    return body


def _visible(message: dict[str, Any], with_metadata: bool) -> dict[str, Any]:
    shown = dict(message)
    if not with_metadata:
        shown.pop("metadata", None)
    return shown


def conversations_history(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    start, limit = _page(args, 100)
    oldest, latest = float(args.get("oldest") or 0), float(args.get("latest") or 1e12)
    with_metadata = _flag(args, "include_all_metadata")
    with ctx.state.lock:
        channel = resolve_channel(ctx, str(args["channel"]))
        top = [
            m
            for m in reversed(channel.messages)
            if m.get("thread_ts") in (None, m["ts"]) and oldest <= float(m["ts"]) <= latest
        ]
        return _paged(
            "messages", top, start, limit, has_more=True, shown=lambda m: _visible(m, with_metadata)
        )


def conversations_replies(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    start, limit = _page(args, 100)
    with_metadata = _flag(args, "include_all_metadata")
    with ctx.state.lock:
        channel = resolve_channel(ctx, str(args["channel"]))
        parent = find_message(channel, str(args["ts"]))
        thread = [parent] + [m for m in channel.messages if m.get("thread_ts") == parent["ts"]]
        thread = [m for m in thread if m is parent or m["ts"] != parent["ts"]]
        return _paged(
            "messages",
            thread,
            start,
            limit,
            has_more=True,
            shown=lambda m: _visible(m, with_metadata),
        )


def conversations_list(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    start, limit = _page(args, 100)
    exclude_archived = _flag(args, "exclude_archived")
    with ctx.state.lock:
        found = [
            {
                "id": c.id,
                "name": c.name,
                "is_channel": True,
                "is_private": False,
                "is_archived": c.archived,
                "is_member": BOT_USER_ID in c.members,
                "num_members": len(c.members),
            }
            for c in ctx.state.channels.values()
            if not c.is_im and not (exclude_archived and c.archived)
        ]
    return _paged("channels", found, start, limit)


def users_list(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    start, limit = _page(args, 200)
    with ctx.state.lock:
        users = list(ctx.state.users.values())
    return _paged("members", users, start, limit)


def users_info(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    with ctx.state.lock:
        user = ctx.state.users.get(str(args["user"]))
    if user is None:
        raise SlackError("user_not_found")
    return {"ok": True, "user": user}


def reactions_add(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    with ctx.state.lock:
        channel = resolve_channel(ctx, str(args["channel"]))
        message = find_message(channel, str(args["timestamp"]))
        names = message.setdefault("reactions", [])
        if any(r["name"] == args["name"] for r in names):
            raise SlackError("already_reacted")
        names.append({"name": args["name"], "users": [BOT_USER_ID], "count": 1})
    return {"ok": True}
