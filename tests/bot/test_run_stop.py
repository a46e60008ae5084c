"""`drumbeat run` stops on its stop event (what SIGINT/SIGTERM set) even while Socket Mode is
still trying to reach Slack, whose connect otherwise retries forever."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.cli import build_parser
from bot.cli.run import serve_until, until_stopped
from bot.settings import Settings


def test_until_stopped_cancels_work_that_never_ends() -> None:
    cancelled: list[bool] = []

    async def never_connects() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def scenario() -> bool:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_soon(stop.set)
        return await asyncio.wait_for(until_stopped(never_connects(), stop), timeout=10)

    assert asyncio.run(scenario()) is False
    assert cancelled == [True]


def test_until_stopped_returns_when_the_work_finishes_and_raises_its_error() -> None:
    async def connects() -> None:
        return None

    async def fails() -> None:
        raise ConnectionError("refused")

    async def scenario() -> bool:
        done = await until_stopped(connects(), asyncio.Event())
        with pytest.raises(ConnectionError):
            await until_stopped(fails(), asyncio.Event())
        return done

    assert asyncio.run(scenario()) is True


def test_socket_mode_stops_while_slack_refuses_the_connection(
    sqlite_template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copyfile(sqlite_template, tmp_path / "bot.db")
    args = build_parser().parse_args(["run", "--host", "127.0.0.1", "--port", "0", "--no-sender"])

    async def scenario() -> tuple[int, list[str]]:
        stop = asyncio.Event()
        opened: list[str] = []

        async def connections_open(request: web.Request) -> web.Response:
            # Slack refuses; the stop comes while Socket Mode waits to retry.
            opened.append(request.path)
            stop.set()
            return web.json_response({"ok": False, "error": "internal_error"})

        slack = web.Application()
        slack.router.add_post("/api/apps.connections.open", connections_open)
        runner = web.AppRunner(slack)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'bot.db'}",
            slack_api_url=f"http://127.0.0.1:{port}/api/",
            slack_bot_token=SecretStr("xoxb-test"),
            slack_signing_secret=SecretStr("signing-secret"),
            slack_app_token=SecretStr("xapp-test"),
        )
        try:
            code = await asyncio.wait_for(serve_until(stop, settings, args, None), timeout=20)
        finally:
            await runner.cleanup()
        return code, opened

    code, opened = asyncio.run(scenario())
    assert (code, opened) == (0, ["/api/apps.connections.open"])
    out = capsys.readouterr().out
    assert "Socket Mode connected" not in out and "listening" not in out
