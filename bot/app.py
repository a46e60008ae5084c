"""The Bolt app factory: one `AsyncApp` for HTTP mode and Socket Mode alike.

    app = create_app(settings=settings, slack_client=client,
                     session_factory=factory, clock=clock)

Listeners are thin: `ack()` at once (Slack wants it within 3 s), then the slow part runs as
a background task after the ack and answers through `respond` (the response_url) or the
Web API. (Bolt's lazy listeners deep-copy the request, client and all, which fails with a
shared aiohttp session, so the app keeps its own task set instead.) Request signatures are
verified by Bolt (HMAC of the raw body, 5-minute window).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.home import publish_home
from bot.settings import Settings, secret_value
from metrics.clock import Clock
from rhythms.config import OrgConfig
from rhythms.models import Interaction

log = logging.getLogger(__name__)

HELP_TEXT = """*Drumbeat* — your team's operating rhythms in Slack.
• `/drumbeat help` — this help
• Open the *Home* tab for your own view.
More commands arrive as the rhythms do (scoreboards, MAPLE, reviews, alerts)."""

Respond = Callable[..., Awaitable[Any]]


class BackgroundTasks:
    """Work started after an ack: kept referenced until done; failures are logged."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None], *, name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    async def drain(self) -> None:
        """Wait for the work in flight (at shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


@dataclass
class AppHooks:
    """What listeners may ask of the running bot: drain the outbox now, start a CRM sync,
    preview a rhythm (the engine)."""

    wake_sender: Callable[[], None] = lambda: None
    start_sync: Callable[[], None] = lambda: None
    engine: Any = None  # rhythms.engine.RhythmEngine, for switchboard previews


class AppConfigError(ValueError):
    """The app cannot start: a setting is missing (named, never its value)."""


def create_app(
    *,
    settings: Settings,
    slack_client: AsyncWebClient,
    session_factory: sessionmaker[Session],
    clock: Clock,
    tasks: BackgroundTasks | None = None,
    config: OrgConfig | None = None,
    hooks: AppHooks | None = None,
) -> AsyncApp:
    """The Bolt app. Pass `tasks` to await the after-ack work at shutdown (`tasks.drain()`).

    With the org `config`, every listener is registered (commands, MAPLE, scoreboard
    buttons, alerts, App Home and switchboard); without it only `/drumbeat help` and a
    minimal Home tab answer (the bot can still start before a config exists).
    """
    signing_secret = secret_value(settings.slack_signing_secret)
    if not signing_secret and settings.slack_app_token is None:
        raise AppConfigError("SLACK_SIGNING_SECRET is required in HTTP mode")
    if not slack_client.token:
        raise AppConfigError("SLACK_BOT_TOKEN is required")
    app = AsyncApp(
        client=slack_client,
        signing_secret=signing_secret or "socket-mode",
        process_before_response=True,
        request_verification_enabled=settings.slack_app_token is None,
    )

    def record(user: str | None, kind: str, name: str) -> None:
        with session_factory() as session, session.begin():
            session.add(Interaction(at=clock.now(), slack_user_id=user, kind=kind, name=name))

    tasks = tasks if tasks is not None else BackgroundTasks()

    async def drumbeat_command(
        ack: Callable[..., Awaitable[None]], body: dict[str, Any], respond: Respond
    ) -> None:
        await ack()
        tasks.spawn(answer_command(body, respond), name="drumbeat command")

    async def answer_command(body: dict[str, Any], respond: Respond) -> None:
        words = str(body.get("text") or "").split()
        sub = words[0].lower() if words else "help"
        await asyncio.to_thread(record, body.get("user_id"), "command", f"drumbeat {sub}"[:64])
        if sub == "help":
            await respond(text=HELP_TEXT, response_type="ephemeral")
        else:
            await respond(
                text=f"I don't know `{sub[:40]}` yet.\n\n{HELP_TEXT}", response_type="ephemeral"
            )

    if config is not None:
        from bot.listeners import register_all

        register_all(
            app,
            session_factory=session_factory,
            clock=clock,
            config=config,
            tasks=tasks,
            hooks=hooks or AppHooks(),
        )
        return app

    app.command("/drumbeat")(drumbeat_command)

    async def home_opened(event: dict[str, Any]) -> None:
        if event.get("tab") in (None, "home"):
            tasks.spawn(publish(str(event["user"])), name="app home")

    async def publish(user: str) -> None:
        await publish_home(slack_client, session_factory, user_id=user)
        await asyncio.to_thread(record, user, "home", "app_home_opened")

    app.event("app_home_opened")(home_opened)
    return app
