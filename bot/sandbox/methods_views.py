"""Sandbox Web API methods for views (modals, App Home) and file uploads."""

from __future__ import annotations

import time
from typing import Any

from bot.sandbox.blockkit import validate_view
from bot.sandbox.methods import (
    Context,
    SlackError,
    find_message,
    json_arg,
    resolve_channel,
)
from bot.sandbox.state import BOT_ID, BOT_USER_ID

TRIGGER_TTL_SECONDS = 3.0


def _valid_view(args: dict[str, Any]) -> dict[str, Any]:
    view = json_arg(args, "view")
    problems = validate_view(view)
    if problems:
        raise SlackError("invalid_arguments", problems)
    assert isinstance(view, dict)
    return view


def views_open(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    trigger = str(args.get("trigger_id") or args.get("interactivity_pointer") or "")
    if not trigger:
        raise SlackError("invalid_arguments", ["missing required field: trigger_id"])
    view = _valid_view(args)
    issued = ctx.triggers.pop(trigger, None)
    if issued is None:
        raise SlackError("invalid_trigger_id")
    if time.monotonic() - issued[0] > TRIGGER_TTL_SECONDS:
        raise SlackError("expired_trigger_id")
    with ctx.state.lock:
        stored = dict(view, id=ctx.state.new_id("V"), hash=ctx.state.new_ts(), user=issued[1])
        ctx.state.views[stored["id"]] = stored
    return {"ok": True, "view": stored}


def views_update(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    view = _valid_view(args)
    with ctx.state.lock:
        if args.get("view_id"):
            current = ctx.state.views.get(str(args["view_id"]))
        elif args.get("external_id"):
            wanted = args["external_id"]
            current = next(
                (v for v in ctx.state.views.values() if v.get("external_id") == wanted), None
            )
        else:
            raise SlackError("invalid_arguments", ["missing required field: view_id"])
        if current is None:
            raise SlackError("not_found")
        if args.get("hash") and args["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        stored = dict(view, id=current["id"], hash=ctx.state.new_ts(), user=current.get("user"))
        ctx.state.views[current["id"]] = stored
    return {"ok": True, "view": stored}


def views_publish(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    view = _valid_view(args)
    if view.get("type") != "home":
        raise SlackError("invalid_arguments", ["view.type must be home"])
    user_id = str(args["user_id"])
    with ctx.state.lock:
        if user_id not in ctx.state.users:
            raise SlackError("user_not_found")
        stored = dict(view, id=ctx.state.new_id("V"), hash=ctx.state.new_ts())
        ctx.state.home[user_id] = stored
    return {"ok": True, "view": stored}


def files_get_upload_url(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    try:
        length = int(args["length"])
    except ValueError as exc:
        raise SlackError("invalid_arguments", ["length must be an integer"]) from exc
    with ctx.state.lock:
        file_id = ctx.state.new_id("F")
        ctx.state.files[file_id] = {
            "id": file_id,
            "name": args["filename"],
            "length": length,
            "content": None,
            "completed": False,
        }
    return {"ok": True, "upload_url": f"{ctx.base_url}/upload/{file_id}", "file_id": file_id}


def files_complete_upload(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    items = json_arg(args, "files")
    if not isinstance(items, list) or not items:
        raise SlackError("invalid_arguments", ["files must be a non-empty array"])
    with ctx.state.lock:
        done = []
        for item in items:
            record = ctx.state.files.get(str(item.get("id")))
            if record is None or record["content"] is None:
                raise SlackError("file_not_found")
            record.update(title=item.get("title") or record["name"], completed=True)
            done.append(record)
        shown = [{"id": f["id"], "name": f["name"], "title": f["title"]} for f in done]
        channel_ref = args.get("channel_id") or args.get("channels")
        if channel_ref:
            channel = resolve_channel(ctx, str(channel_ref).split(",")[0])
            message: dict[str, Any] = {
                "type": "message",
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "text": args.get("initial_comment") or "",
                "ts": ctx.state.new_ts(),
                "files": shown,
            }
            if args.get("thread_ts"):
                parent = find_message(channel, str(args["thread_ts"]))
                parent["reply_count"] = parent.get("reply_count", 0) + 1
                message["thread_ts"] = str(args["thread_ts"])
            channel.messages.append(message)
            for record in done:
                record["channel"], record["ts"] = channel.id, message["ts"]
    return {"ok": True, "files": shown}
