"""Bolt listeners, one module per surface; `register_all` wires them into the app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt.async_app import AsyncApp
from sqlalchemy.orm import Session, sessionmaker

from metrics.clock import Clock
from rhythms.config import OrgConfig

if TYPE_CHECKING:
    from bot.app import AppHooks, BackgroundTasks


def rhythm_named(config: OrgConfig, kind: str) -> str:
    """The configured name of the rhythm of `kind` (a scoreboard may be configured under
    another name), so interactions are counted under the rhythm `/drumbeat rhythms` shows;
    `kind` itself when none is configured. With several of one kind, the first."""
    for name in config.rhythms:
        if config.rhythm_kind(name) == kind:
            return name
    return kind


def register_all(
    app: AsyncApp,
    *,
    session_factory: sessionmaker[Session],
    clock: Clock,
    config: OrgConfig,
    tasks: BackgroundTasks | None,
    hooks: AppHooks,
) -> None:
    from bot.listeners.alerts import register_alert_listeners
    from bot.listeners.commands import register_command_listeners
    from bot.listeners.home import register_home_listeners
    from bot.listeners.maple import register_maple_listeners
    from bot.listeners.scoreboard import register_scoreboard_listeners

    f, c = session_factory, clock
    register_command_listeners(
        app,
        session_factory=f,
        clock=c,
        config=config,
        wake_sender=hooks.wake_sender,
        start_sync=hooks.start_sync,
        tasks=tasks,
    )
    register_maple_listeners(
        app, session_factory=f, clock=c, config=config, wake_sender=hooks.wake_sender, tasks=tasks
    )
    register_scoreboard_listeners(app, session_factory=f, clock=c, config=config, tasks=tasks)
    register_alert_listeners(
        app, session_factory=f, clock=c, config=config, wake_sender=hooks.wake_sender
    )
    register_home_listeners(
        app,
        session_factory=f,
        clock=c,
        config=config,
        engine=hooks.engine,
        wake_sender=hooks.wake_sender,
        tasks=tasks,
    )
