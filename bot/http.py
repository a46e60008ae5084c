"""HTTP mode: an aiohttp server with `POST /slack/events` (Bolt) and `GET /healthz`.

`/healthz` answers 200 with ``{"ok": true, ...}`` while the bot can work, and 503 when the
runtime's `health` says otherwise (the sender is paused because Slack refuses the bot token,
or a background task crashed and is waiting to restart), with the reason.

runner = await start_http(app, port=3000)   # port 0 picks a free one
runner.port, ...; await runner.stop()
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

EVENTS_PATH = "/slack/events"
log = logging.getLogger(__name__)


Health = Callable[[], dict[str, Any]]


def make_web_app(app: AsyncApp, health: Health | None = None) -> web.Application:
    async def events(request: web.Request) -> web.Response:
        try:  # Bolt parses the body before it checks the signature: junk must not be a 500
            bolt_request = await to_bolt_request(request)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            log.warning("refused a malformed request body: %s", type(exc).__name__)
            return web.Response(status=400, text="malformed request body")
        return await to_aiohttp_response(await app.async_dispatch(bolt_request))

    async def healthz(_request: web.Request) -> web.Response:
        report = {"ok": True, **(health() if health is not None else {})}
        return web.json_response(report, status=200 if report["ok"] else 503)

    web_app = web.Application()
    web_app.router.add_post(EVENTS_PATH, events)
    web_app.router.add_get("/healthz", healthz)
    return web_app


@dataclass
class HttpServer:
    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def events_url(self) -> str:
        return self.url + EVENTS_PATH

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_http(
    app: AsyncApp, *, host: str = "0.0.0.0", port: int = 3000, health: Health | None = None
) -> HttpServer:
    runner = web.AppRunner(make_web_app(app, health), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sockets = getattr(site._server, "sockets", None)
    bound = int(sockets[0].getsockname()[1]) if sockets else port
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return HttpServer(runner, shown, bound)
