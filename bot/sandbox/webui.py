"""The sandbox's web page: a small Slack-like client for `drumbeat demo`.

Serves a page (sidebar of channels and DMs, messages with threads, Block Kit rendered,
modals that can be filled and submitted, the App Home, a slash-command box and a time
control) and a JSON API under ``/ui/`` that reads the sandbox's state and drives the bot
exactly like Slack does, through `BotDriver` (signed requests to the bot's endpoint).
"""

from __future__ import annotations

import errno
import json
import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any, Protocol

from aiohttp import web

from bot.http import PortInUseError, port_message
from bot.sandbox.driver import BotDriver
from bot.sandbox.server import SlackSandbox
from bot.sandbox.state import BOT_USER_ID

log = logging.getLogger(__name__)
STATIC = {"app.js": "application/javascript", "style.css": "text/css", "index.html": "text/html"}


class ClockControl(Protocol):
    def describe(self, user: str | None) -> dict[str, Any]: ...

    async def jump(self, kind: str, user: str | None) -> str: ...


class WebUI:
    def __init__(
        self,
        sandbox: SlackSandbox,
        driver: BotDriver,
        *,
        people: list[dict[str, Any]],
        clock: ClockControl,
        after_action: Callable[[], Awaitable[None]],
    ) -> None:
        self.sandbox = sandbox
        self.driver = driver
        self.people = people
        self.clock = clock
        self.after_action = after_action  # e.g. drain the outbox so answers show at once
        self._runner: web.AppRunner | None = None
        self.url = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self._static_index)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/ui/bootstrap", self._bootstrap)
        app.router.add_get("/ui/state", self._state)
        app.router.add_get("/ui/file/{file_id}", self._file)
        app.router.add_post("/ui/command", self._command)
        app.router.add_post("/ui/action", self._action)
        app.router.add_post("/ui/submit", self._submit)
        app.router.add_post("/ui/close", self._close)
        app.router.add_post("/ui/home", self._home)
        app.router.add_post("/ui/clock", self._clock)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        try:
            await site.start()
        except OSError as exc:  # a port in use: named, nothing left open
            await self._runner.cleanup()
            self._runner = None
            if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
                raise PortInUseError(port_message(host, port, exc)) from exc
            raise
        bound = self._runner.addresses[0]
        self.url = f"http://{host if host != '0.0.0.0' else '127.0.0.1'}:{bound[1]}/"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- static ----------------------------------------------------------------------------
    async def _static_index(self, _request: web.Request) -> web.Response:
        return self._file_response("index.html")

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC:
            raise web.HTTPNotFound()
        return self._file_response(name)

    def _file_response(self, name: str) -> web.Response:
        text = resources.files("bot.sandbox").joinpath("web", name).read_text("utf-8")
        return web.Response(text=text, content_type=STATIC[name], charset="utf-8")

    # -- reading ---------------------------------------------------------------------------
    async def _bootstrap(self, _request: web.Request) -> web.Response:
        state = self.sandbox.state
        with state.lock:
            channels = [
                {"id": c.id, "name": c.name} for c in state.channels.values() if not c.is_im
            ]
        return web.json_response({"people": self.people, "channels": channels, "bot": BOT_USER_ID})

    async def _state(self, request: web.Request) -> web.Response:
        user = request.query.get("user") or None
        conv = request.query.get("conv") or ""
        state = self.sandbox.state
        if conv == "home" and user:
            payload: dict[str, Any] = {"home": state.home_view(user)}
        else:
            channel = state.dm_with(user).id if conv == "dm" and user else conv
            messages = state.messages(channel)
            ephemerals = (
                [e for e in state.ephemerals(user) if e.get("channel") in (channel, None)]
                if user
                else []
            )
            payload = {"channel": channel, "messages": messages, "ephemerals": ephemerals}
        payload["views"] = state.open_views(user) if user else []
        payload["clock"] = self.clock.describe(user)
        payload["unread"] = self._dm_counts(user)
        return web.json_response(payload, dumps=lambda o: json.dumps(o, default=str))

    def _dm_counts(self, user: str | None) -> int:
        if not user:
            return 0
        return len(self.sandbox.state.dm_messages(user))

    async def _file(self, request: web.Request) -> web.Response:
        state = self.sandbox.state
        with state.lock:
            record = state.files.get(request.match_info["file_id"])
            content = record.get("content") if record else None
            name = str(record.get("name", "")) if record else ""
        if not content:
            raise web.HTTPNotFound()
        kind = "application/pdf" if name.endswith(".pdf") else "image/png"
        return web.Response(body=content, content_type=kind)

    # -- driving the bot -------------------------------------------------------------------
    async def _json(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError as exc:
            raise web.HTTPBadRequest(text="expected a JSON body") from exc
        if not isinstance(body, dict) or not body.get("user"):
            raise web.HTTPBadRequest(text="say which user is acting ('user')")
        return body

    async def _command(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        text = str(body.get("text") or "").strip()
        if not text.startswith("/"):
            return web.json_response({"error": "type a slash command, e.g. /metric calls"})
        command, _, rest = text.partition(" ")
        channel = str(body.get("channel") or self.sandbox.state.dm_with(body["user"]).id)
        reply = await self.driver.slash_command(command, rest, user=body["user"], channel=channel)
        await self.after_action()
        return web.json_response({"status": reply.status, "elapsed": reply.elapsed})

    async def _action(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        action = dict(body.get("action") or {})
        view_id = body.get("view_id")
        view = (
            next(
                (v for v in self.sandbox.state.open_views(body["user"]) if v["id"] == view_id), None
            )
            if view_id
            else None
        )
        if view is not None and body.get("values"):
            view = dict(view, state={"values": body["values"]})
        reply = await self.driver.block_actions(
            user=body["user"],
            actions=[action],
            channel=body.get("channel"),
            message_ts=body.get("ts"),
            view=view,
        )
        await self.after_action()
        return web.json_response({"status": reply.status})

    async def _submit(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        view = next(
            (
                v
                for v in self.sandbox.state.open_views(body["user"])
                if v["id"] == body.get("view_id")
            ),
            None,
        )
        if view is None:
            return web.json_response({"error": "that form is no longer open"}, status=404)
        reply = await self.driver.view_submission(
            user=body["user"], view=view, values=body.get("values") or {}
        )
        answer = reply.json() if reply.body else None
        if reply.status == 200 and not (answer and answer.get("response_action") == "errors"):
            self._forget_view(view["id"])
        await self.after_action()
        return web.json_response({"status": reply.status, "answer": answer})

    async def _close(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        self._forget_view(str(body.get("view_id")))
        return web.json_response({"ok": True})

    def _forget_view(self, view_id: str) -> None:
        with self.sandbox.state.lock:
            self.sandbox.state.views.pop(view_id, None)

    async def _home(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        reply = await self.driver.app_home_opened(body["user"])
        await self.after_action()
        return web.json_response({"status": reply.status})

    async def _clock(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        try:
            said = await self.clock.jump(str(body.get("jump") or ""), body.get("user"))
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        await self.after_action()
        return web.json_response({"said": said, "clock": self.clock.describe(body.get("user"))})
