"""The sandbox Slack server: the Web API on loopback, plus upload URLs and response_urls.

    sandbox = SlackSandbox(token="xoxb-test")
    await sandbox.start()            # picks a free port; sandbox.api_url ends in /api/
    ...                              # point SLACK_API_URL at sandbox.api_url
    await sandbox.stop()

or, from synchronous code (tests, a bot in a subprocess): ``with running_sandbox() as sb:``
runs it on its own event loop in a background thread. What was posted is read through
`sandbox.state` (see `bot.sandbox.state`); `sandbox.calls` logs every API call and status.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from bot.sandbox import methods as m
from bot.sandbox import methods_views as mv
from bot.sandbox.blockkit import validate_blocks
from bot.sandbox.limits import Faults, RateLimits
from bot.sandbox.scopes import needed_scopes
from bot.sandbox.state import BOT_USER_ID, SandboxState

METHODS: dict[str, m.Method] = {
    "auth.test": m.auth_test,
    "chat.postMessage": m.chat_post_message,
    "chat.postEphemeral": m.chat_post_ephemeral,
    "chat.update": m.chat_update,
    "chat.delete": m.chat_delete,
    "conversations.open": m.conversations_open,
    "conversations.history": m.conversations_history,
    "conversations.list": m.conversations_list,
    "conversations.replies": m.conversations_replies,
    "users.list": m.users_list,
    "users.info": m.users_info,
    "views.open": mv.views_open,
    "views.update": mv.views_update,
    "views.publish": mv.views_publish,
    "files.getUploadURLExternal": mv.files_get_upload_url,
    "files.completeUploadExternal": mv.files_complete_upload,
    "reactions.add": m.reactions_add,
}
RESPONSE_URL_USES = 5
RESPONSE_URL_TTL_SECONDS = 30 * 60
_DROP = "x-sandbox-drop"  # internal marker: close the socket instead of answering


@dataclass
class Call:
    method: str
    status: int
    error: str | None
    args: dict[str, Any] = field(repr=False)


class SlackSandbox:
    """A local Slack workspace speaking the Web API over real HTTP."""

    def __init__(
        self,
        *,
        token: str = "xoxb-sandbox-token",
        limits: RateLimits | None = None,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] | None = None,
        scopes: Iterable[str] | None = None,
    ) -> None:
        self.token = token
        # the token's OAuth scopes; None: every scope (a call lacking one: `missing_scope`)
        self.scopes = None if scopes is None else frozenset(scopes)
        self.limits = limits or RateLimits()
        self.faults = faults or Faults()
        self.state = SandboxState(clock) if clock is not None else SandboxState()
        self.calls: list[Call] = []
        self.latency: dict[str, float] = {}  # method -> seconds to wait before answering
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self._ctx = m.Context(self.state, "")
        self._responses: dict[str, dict[str, Any]] = {}
        self._held: dict[str, int] = {}  # method -> answers still given before holding
        self._released: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.base_url = ""

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/response/{key}", self._response_url)
        app.router.add_get("/healthz", self._healthz)
        self.loop = asyncio.get_running_loop()
        self._released = asyncio.Event()
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        sockets = getattr(site._server, "sockets", None)
        assert sockets, "the sandbox server has no listening socket"
        port = int(sockets[0].getsockname()[1])
        self.base_url = f"http://{self._host}:{port}"
        self._ctx.base_url = self.base_url
        return self.base_url

    async def stop(self) -> None:
        if self._released is not None:
            self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- control from tests (thread-safe) ---------------------------------------------------
    def hold_answers(self, method: str, *, after: int = 0) -> None:
        """Carry out calls to `method` but withhold their answers after `after` more of them.

        Models a client that dies between Slack doing the work and hearing the answer.
        """
        self._held[method] = after

    def release_answers(self) -> None:
        self._held.clear()
        if self.loop is not None and self._released is not None:
            self.loop.call_soon_threadsafe(self._released.set)

    # -- helpers for the driver ------------------------------------------------------------
    def new_trigger(self, user: str) -> str:
        trigger = f"{int(time.time())}.{uuid.uuid4().hex[:12]}"
        self._ctx.triggers[trigger] = (time.monotonic(), user)
        return trigger

    def new_response_url(self, *, user: str, channel: str) -> str:
        key = uuid.uuid4().hex
        self._responses[key] = {
            "user": user,
            "channel": channel,
            "uses": 0,
            "issued": time.monotonic(),
        }
        return f"{self.base_url}/response/{key}"

    def count(self, method: str, *, ok: bool | None = None) -> int:
        return sum(
            1 for c in list(self.calls) if c.method == method and ok in (None, c.status == 200)
        )

    # -- HTTP handlers ---------------------------------------------------------------------
    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _arguments(request)
        token = _bearer(request) or str(args.pop("token", "") or "")
        args.pop("token", None)
        status, body, headers = await self._dispatch(method, token, args)
        if headers.pop(_DROP, None):  # carried out; the client never hears the answer
            self.calls.append(Call(method, status, "dropped", args))
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPInternalServerError()  # nothing reaches the aborted socket
        self.calls.append(Call(method, status, None if body.get("ok") else body.get("error"), args))
        return web.json_response(body, status=status, headers=headers)

    async def _dispatch(
        self, method: str, token: str, args: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        handler = METHODS.get(method)
        if handler is None:
            return 404, {"ok": False, "error": "unknown_method"}, {}
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if token != self.token:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if self.scopes is not None:
            missing = needed_scopes(method, self._conversation_types(method, args)) - self.scopes
            if missing:  # Slack's answer: the scope(s) needed and the token's scopes
                error = {"ok": False, "error": "missing_scope", "needed": ",".join(sorted(missing))}
                return 200, {**error, "provided": ",".join(sorted(self.scopes))}, {}
        fault = self.faults.draw(method)
        if fault == "429":
            return _ratelimited(self.faults.retry_after)
        if fault == "500":
            return 500, {"ok": False, "error": "internal_error"}, {}
        if fault != "timeout" or self.faults.timeout_processes:
            if self.limits.enabled and method != "chat.postMessage":
                wait = self.limits.check(method)
                if wait is not None:
                    return _ratelimited(wait)
            try:
                m.check_required(method, args)
                if method == "chat.postMessage":
                    wait = self.limits.check(method, str(args.get("channel")))
                    if wait is not None:
                        return _ratelimited(wait)
                body = handler(self._ctx, args)
                status = 200
            except m.SlackError as exc:
                body, status = exc.body(), 200
        if fault == "timeout":
            await asyncio.sleep(self.faults.timeout_seconds)
            return 500, {"ok": False, "error": "timeout"}, {}
        if fault == "drop":
            return status, body, {_DROP: "1"}
        if self.latency.get(method):
            await asyncio.sleep(self.latency[method])
        if method in self._held and status == 200 and body.get("ok"):
            if self._held[method] > 0:
                self._held[method] -= 1
            elif self._released is not None:
                await self._released.wait()
        return status, body, {}

    def _conversation_types(self, method: str, args: dict[str, Any]) -> list[str]:
        """The kinds of conversation a call touches, for its scopes (`bot.sandbox.scopes`)."""
        if method == "conversations.list":
            return str(args.get("types") or "public_channel").split(",")
        if method == "conversations.open" and not args.get("channel"):
            return ["im" if "," not in str(args.get("users") or "") else "mpim"]
        channel = self.state.channels.get(str(args.get("channel") or ""))
        return ["im" if channel is not None and channel.is_im else "public_channel"]

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        record = self.state.files.get(file_id)
        if record is None:
            return web.Response(status=404, text="file not found")
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            part = await reader.next()
            data = await part.read() if isinstance(part, BodyPartReader) else b""
        else:
            data = await request.read()
        with self.state.lock:
            record["content"] = bytes(data)
            record["size"] = len(data)
        return web.Response(status=200, text=f"OK - {len(data)}", content_type="text/plain")

    async def _response_url(self, request: web.Request) -> web.Response:
        entry = self._responses.get(request.match_info["key"])
        if entry is None:
            return web.Response(status=404, text="invalid_url")
        if entry["uses"] >= RESPONSE_URL_USES:
            return web.Response(status=404, text="used_url")
        if time.monotonic() - entry["issued"] > RESPONSE_URL_TTL_SECONDS:
            return web.Response(status=404, text="expired_url")
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        blocks = body.get("blocks")
        if blocks is not None and validate_blocks(blocks, "message"):
            return web.Response(status=400, text="invalid_blocks")
        entry["uses"] += 1
        self._show_reply(entry["user"], entry["channel"], body)
        return web.Response(status=200, text="ok", content_type="text/plain")

    def command_reply(self, *, user: str, channel: str, body: dict[str, Any]) -> str | None:
        """Show a slash command's ack body as Slack does (a reply, like a response_url post);
        a body Slack would refuse shows the error instead (and is returned)."""
        blocks = body.get("blocks")
        if blocks is not None and validate_blocks(blocks, "message"):
            self._show_reply(user, channel, {"text": 'failed with the error "invalid_blocks"'})
            return "invalid_blocks"
        self._show_reply(user, channel, body)
        return None

    def _show_reply(self, user: str, channel_id: str, body: dict[str, Any]) -> None:
        blocks = body.get("blocks")
        in_channel = body.get("response_type") == "in_channel"
        with self.state.lock:
            post = {
                "user": user,
                "channel": channel_id,
                "text": body.get("text", ""),
                "blocks": blocks,
                "ephemeral": not in_channel,
                "replace_original": bool(body.get("replace_original")),
                "delete_original": bool(body.get("delete_original")),
                "message_ts": self.state.new_ts(),
            }
            self.state.responses.append(post)
            channel = self.state.channels.get(channel_id)
            if in_channel and channel is not None:
                message = {"type": "message", "user": BOT_USER_ID, "text": post["text"]}
                message.update(ts=post["message_ts"], blocks=blocks)
                channel.messages.append(message)


def _ratelimited(retry_after: float) -> tuple[int, dict[str, Any], dict[str, str]]:
    value = str(int(retry_after)) if float(retry_after).is_integer() else f"{retry_after:g}"
    return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": value}


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


async def _arguments(request: web.Request) -> dict[str, Any]:
    args: dict[str, Any] = dict(request.query)
    if request.method == "POST":
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                return {"__invalid_json__": True}
            if isinstance(body, dict):
                args.update(body)
        else:
            form = await request.post()
            args.update({k: v for k, v in form.items() if isinstance(v, str)})
    return args


@contextlib.contextmanager
def running_sandbox(**kwargs: Any) -> Iterator[SlackSandbox]:
    """Run a `SlackSandbox` on its own loop in a daemon thread; stop it on exit."""
    sandbox = SlackSandbox(**kwargs)
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(sandbox.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="slack-sandbox", daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("the Slack sandbox did not start within 10 s")
    try:
        yield sandbox
    finally:
        asyncio.run_coroutine_threadsafe(sandbox.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
