"""HTTP mode: an aiohttp server with `POST /slack/events` (Bolt) and `GET /healthz`.

`/healthz` answers 200 with ``{"ok": true, ...}`` while the bot can work, and 503 when the
runtime's `health` says otherwise (the database does not answer, the sender is paused because
Slack refuses the bot token or the database fails, or a background task crashed and is
waiting to restart), with the reason.

runner = await start_http(app, port=3000)   # port 0 picks a free one
runner.port, ...; await runner.stop()
"""

from __future__ import annotations

import errno
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


class PortInUseError(OSError):
    """The port to listen on is taken (or not allowed): the message names it and the fix."""


def make_web_app(app: AsyncApp, health: Health | None = None) -> web.Application:
    async def events(request: web.Request) -> web.Response:
        try:  # Bolt parses the body before it checks the signature: junk must not be a 500
            bolt_request = await to_bolt_request(request)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            log.warning("refused a malformed request body: %s", type(exc).__name__)
            return web.Response(status=400, text="malformed request body")
        return await to_aiohttp_response(await app.async_dispatch(bolt_request))

    async def healthz(_request: web.Request) -> web.Response:
        try:
            report = {"ok": True, **(health() if health is not None else {})}
        except Exception as exc:  # a health check that fails is an unhealthy answer
            log.exception("the health check failed")
            report = {"ok": False, "reason": f"health check failed: {type(exc).__name__}"}
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
    """Serve `app` on `host`:`port`; a port in use is a `PortInUseError` (nothing left open)."""
    runner = web.AppRunner(make_web_app(app, health), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise PortInUseError(port_message(host, port, exc)) from exc
        raise
    sockets = getattr(site._server, "sockets", None)
    bound = int(sockets[0].getsockname()[1]) if sockets else port
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return HttpServer(runner, shown, bound)


def port_message(host: str, port: int, exc: OSError, *, option: str = "--port") -> str:
    """One line for a port that cannot be listened on: in use, or not allowed."""
    why = (
        "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
    )
    return (
        f"port {port} on {host or '0.0.0.0'} {why}: stop what holds it or choose another "
        f"with {option} N ({option} 0: any free port)"
    )
