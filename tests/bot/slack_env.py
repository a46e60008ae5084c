"""Test helpers: the sandbox Slack plus the bot (Bolt app over HTTP, client, sender)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.app import AppHooks, create_app
from bot.http import HttpServer, start_http
from bot.ratelimit import RateLimiter
from bot.sandbox import Faults, RateLimits, SlackSandbox, running_sandbox
from bot.sandbox.driver import BotDriver
from bot.sender import RetryPolicy, Sender
from bot.settings import Settings
from bot.slack_client import make_http_session, make_slack_client
from metrics.clock import Clock, SystemClock
from rhythms.config import OrgConfig

SIGNING_SECRET = "test-signing-secret-0123456789"
TOKEN = "xoxb-test-token"

FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05, settle_delay=0.05)


def fast_limits() -> RateLimits:
    """Slack's limits with every window 100x shorter and a 50 ms Retry-After."""
    return RateLimits(time_scale=0.01, retry_after=0.05)


@contextlib.contextmanager
def sandbox(
    faults: Faults | None = None, limits: RateLimits | None = None
) -> Iterator[SlackSandbox]:
    with running_sandbox(token=TOKEN, limits=limits or fast_limits(), faults=faults) as sb:
        yield sb


def settings_for(sb: SlackSandbox) -> Settings:
    return Settings(
        slack_api_url=sb.api_url,
        slack_bot_token=SecretStr(TOKEN),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
    )


@dataclass
class Bot:
    app: AsyncApp | None
    client: AsyncWebClient
    session: aiohttp.ClientSession
    server: HttpServer | None
    driver: BotDriver | None

    def sender(
        self, factory: sessionmaker[Session], clock: Clock | None = None, **kwargs: Any
    ) -> Sender:
        kwargs.setdefault("limiter", RateLimiter(scale=0.01))
        kwargs.setdefault("retry", FAST_RETRY)
        return Sender(
            client=self.client,
            session_factory=factory,
            clock=clock or SystemClock(),
            seed=3,
            **kwargs,
        )


@contextlib.asynccontextmanager
async def bot(
    sb: SlackSandbox,
    factory: sessionmaker[Session],
    *,
    clock: Clock | None = None,
    http: bool = True,
    timeout: float = 10.0,
    config: OrgConfig | None = None,
    hooks: AppHooks | None = None,
) -> AsyncIterator[Bot]:
    session = make_http_session(timeout=timeout)
    settings = settings_for(sb)
    client = make_slack_client(settings, session=session)
    server = driver = app = None
    try:
        if http:
            app = create_app(
                settings=settings,
                slack_client=client,
                session_factory=factory,
                clock=clock or SystemClock(),
                config=config,
                hooks=hooks,
            )
            server = await start_http(app, host="127.0.0.1", port=0)
            driver = BotDriver(
                sb, bot_url=server.events_url, signing_secret=SIGNING_SECRET, session=session
            )
        yield Bot(app, client, session, server, driver)
    finally:
        if server is not None:
            await server.stop()
        await session.close()


async def eventually(condition: Callable[[], Any], *, within: float = 5.0) -> Any:
    """Poll `condition` until truthy or `within` seconds pass (then fail)."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.01)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)  # type: ignore[misc]
