"""`drumbeat run`: the bot — Slack app (HTTP or Socket Mode) and the outbox sender.

HTTP mode (default) serves ``POST /slack/events`` and ``GET /healthz`` on ``--port``;
Socket Mode is used when SLACK_APP_TOKEN is set. ``--sandbox`` starts the local Slack
sandbox in the same process and points the bot at it (no Slack account needed). Before
serving it checks (`bot.cli.preflight`), before any network call, that the org config
loads, that the CRM source is named (there is no default: the demo CRM must never feed real
people) and its settings are there when it syncs, that every Slack setting is there and
the port is free; then that the database answers and holds no other CRM's records, and that
Slack accepts the bot token (``auth.test``).
SIGINT/SIGTERM stop it, even while Socket Mode is still trying to connect; the sender stops
claiming, finishes the sends in flight and gives claimed-but-unsent rows back.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
from collections.abc import Awaitable
from typing import Any

from pydantic import SecretStr
from rich.markup import escape

from bot.app import AppConfigError
from bot.cli.common import (
    console,
    database_url,
    err_console,
    port_number,
    print_config_error,
    print_error,
)
from bot.cli.preflight import (
    crm_problem,
    crm_source_problem,
    database_problem,
    mixed_source_problem,
    port_problem,
    slack_auth_problem,
    slack_settings_problems,
)
from bot.db import schema_problem
from bot.http import PortInUseError
from bot.runtime import RuntimeOptions, start_runtime
from bot.settings import Settings, secret_value
from metrics.clock import SystemClock
from metrics.store import redacted
from rhythms.config import ConfigError, OrgConfig, load_org_config

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "run",
        help="run the bot: Slack app and outbox sender",
        description=(
            "Run the bot: the Slack app (HTTP mode on --port, or Socket Mode when "
            "SLACK_APP_TOKEN is set) and the outbox sender, against SLACK_API_URL."
        ),
    )
    parser.add_argument(
        "--port", type=port_number, help="HTTP port, 0 for any free one (default DRUMBEAT_PORT)"
    )
    parser.add_argument("--host", default="0.0.0.0", help="interface to listen on")
    parser.add_argument("--database-url", type=database_url, help="override DRUMBEAT_DATABASE_URL")
    parser.add_argument(
        "--sandbox", action="store_true", help="start the local Slack sandbox and use it"
    )
    parser.add_argument("--no-sender", action="store_true", help="do not drain the outbox")
    parser.add_argument(
        "--claim-lease",
        type=float,
        default=600.0,
        help="seconds before another sender's claim counts as abandoned (default 600)",
    )
    parser.add_argument(
        "--pace-scale",
        type=float,
        default=1.0,
        help="multiply client-side rate-limit intervals (sandbox/benchmarks only; default 1)",
    )
    parser.add_argument("--max-in-flight", type=int, default=16, help="concurrent sends")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    updates: dict[str, Any] = {}
    if args.port is not None:
        updates["port"] = args.port
    if args.database_url:
        updates["database_url"] = args.database_url
    settings = settings.model_copy(update=updates)
    try:
        org = load_org_config(settings.config_path)  # a bot without it would send nothing
    except ConfigError as exc:
        print_config_error(exc)
        return 2
    source = settings.crm_source
    problems = [crm_source_problem(source), crm_problem(settings, org, SystemClock().now())]
    if not args.sandbox:  # the sandbox brings its own token, secret and URL
        problems.extend(slack_settings_problems(settings))
    problems.append(port_problem(args.host, settings.port))
    found = [line for line in problems if line]
    for line in found:
        err_console.print(f"[red]cannot start:[/] {escape(line)}")
    if found or source is None:
        return 2
    try:
        if problem := database_problem(settings.database_url) or schema_problem(
            settings.database_url
        ):
            print_error(problem)
            return 1
        if problem := mixed_source_problem(settings.database_url, source):
            err_console.print(f"[red]cannot start:[/] {escape(problem)}")
            return 2
        return asyncio.run(_serve(settings, args, org))
    except (AppConfigError, PortInUseError) as exc:
        err_console.print(f"[red]cannot start:[/] {escape(str(exc))}")
        return 2
    except KeyboardInterrupt:
        return 0


def _scheduled_sync(settings: Settings, org: OrgConfig | None, clock: SystemClock) -> Any:
    """The CRM pull the scheduler runs every DRUMBEAT_SYNC_MINUTES (None without a config
    or a CRM source)."""
    source = settings.crm_source
    if org is None or source is None:
        return None

    def sync() -> None:
        from bot.cli.sync import connector_from_settings
        from metrics.pipeline import sync_and_roll_up
        from metrics.store import make_engine, make_session_factory

        connector = connector_from_settings(settings, org, source=source, now=clock.now())
        engine = make_engine(settings.database_url)
        try:
            result = sync_and_roll_up(
                connector, session_factory=make_session_factory(engine), config=org, clock=clock
            )
            log.info(
                "CRM sync %s: %s",
                source,
                "ok" if result.sync.ok else f"failed: {result.sync.error}",
            )
        finally:
            connector.close()
            engine.dispose()

    return sync


async def _serve(settings: Settings, args: argparse.Namespace, org: OrgConfig | None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if os.name == "posix":  # asyncio signal handlers exist on Unix only
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    return await serve_until(stop, settings, args, org)


async def until_stopped(work: Awaitable[object], stop: asyncio.Event) -> bool:
    """Await `work` unless `stop` is set first, then cancel it: True when `work` finished.

    Socket Mode's connect retries forever while Slack is unreachable, and a signal only
    sets `stop`: without this race SIGINT/SIGTERM could not end the process."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, stopping):
            pending.cancel()
        await asyncio.gather(task, stopping, return_exceptions=True)
    if task.cancelled():
        return False
    task.result()  # raises what `work` raised
    return True


async def serve_until(
    stop: asyncio.Event, settings: Settings, args: argparse.Namespace, org: OrgConfig | None
) -> int:
    """Serve until `stop` is set (by a signal in `drumbeat run`), then shut down cleanly."""
    sandbox = None
    if args.sandbox:
        from bot.sandbox.server import SlackSandbox
        from bot.sandbox.users import seed_from_config

        sandbox = SlackSandbox(token=f"xoxb-sandbox-{secrets.token_hex(8)}")
        await sandbox.start()
        if org is not None:
            seed_from_config(sandbox.state, org)
        settings = settings.model_copy(
            update={
                "slack_api_url": sandbox.api_url,
                "slack_bot_token": SecretStr(sandbox.token),
                "slack_signing_secret": settings.slack_signing_secret
                or SecretStr(secrets.token_hex(16)),
                "slack_app_token": None,
            }
        )

    if problem := await slack_auth_problem(settings):
        err_console.print(f"[red]cannot start:[/] {escape(problem)}")
        if sandbox is not None:
            await sandbox.stop()
        return 2
    clock = SystemClock()
    options = RuntimeOptions(
        host=args.host,
        port=settings.port,
        sender=not args.no_sender,
        max_in_flight=args.max_in_flight,
        pace_scale=args.pace_scale,
        claim_lease=args.claim_lease,
    )
    options.sync_minutes = settings.sync_minutes
    try:
        runtime = await start_runtime(
            settings, org, clock=clock, options=options, sync=_scheduled_sync(settings, org, clock)
        )
    except BaseException:  # the port taken since the check: `run` names it
        if sandbox is not None:
            await sandbox.stop()
        raise
    socket_handler = None
    try:
        if settings.slack_app_token is not None:
            from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

            socket_handler = AsyncSocketModeHandler(
                runtime.app, secret_value(settings.slack_app_token)
            )
            connect = socket_handler.connect_async()  # type: ignore[no-untyped-call]
            if not await until_stopped(connect, stop):
                return 0
            console.print("Socket Mode connected")
        server = runtime.server
        console.print(f"drumbeat listening on {server.url} (events at {server.events_url})")
        console.print(f"database {redacted(settings.database_url)}", markup=False)
        console.print(f"Slack Web API at {settings.slack_api_url}", markup=False)
        if org is None:
            console.print("[yellow]no org config: rhythms and most commands are off[/]")
        if sandbox is not None:
            console.print(f"sandbox Slack at {sandbox.base_url} (seeded from the org config)")
        await stop.wait()
    finally:
        if socket_handler is not None:
            await socket_handler.close_async()  # type: ignore[no-untyped-call]
        await runtime.stop()
        if sandbox is not None:
            await sandbox.stop()
    return 0
