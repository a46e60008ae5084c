"""Buttons on the scoreboard DM: "Details" and "Why these targets?".

Each handler acks at once, opens a modal straight away with the `trigger_id` (it expires
after 3 s) showing a loading state, then computes the board off the event loop
(`asyncio.to_thread`) as background work and fills the modal with `views.update`.
Who may see whose numbers is decided in `rhythms.scoreboard_views.scoreboard_for_action`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from bot.app import BackgroundTasks
from bot.listeners import rhythm_named
from metrics.calendar import WorkCalendar
from metrics.clock import Clock
from rhythms.config import OrgConfig
from rhythms.models import Interaction
from rhythms.scoreboard import MetricsScoreboards, ScoreboardSource
from rhythms.scoreboard_message import DETAILS_ACTION, TARGETS_ACTION
from rhythms.scoreboard_views import (
    ScoreboardAccessError,
    button_rhythm,
    details_view,
    error_view,
    loading_view,
    scoreboard_for_action,
    targets_view,
)

log = logging.getLogger(__name__)

Ack = Callable[..., Awaitable[None]]
Handler = Callable[..., Awaitable[None]]


def _clicked_rhythm(config: OrgConfig, value: str) -> str:
    """The rhythm a click counts under: the one its button names if it is configured (a
    message from a rhythm since renamed or removed counts under the first scoreboard)."""
    named = button_rhythm(value)
    if named is not None and named in config.rhythms:
        return named
    return rhythm_named(config, "daily_scoreboard")


def scoreboard_handlers(
    *,
    session_factory: sessionmaker[Session],
    clock: Clock,
    config: OrgConfig,
    source: ScoreboardSource | None = None,
    tasks: BackgroundTasks | None = None,
) -> dict[str, Handler]:
    """The action handlers by action_id (registered by `register_scoreboard_listeners`)."""
    scoreboards = source if source is not None else MetricsScoreboards()
    background = tasks if tasks is not None else BackgroundTasks()
    calendar = WorkCalendar(config.calendar)

    def build(action_id: str, user: str, value: str) -> dict[str, Any]:
        with session_factory() as session:
            now = clock.now()
            session.add(
                Interaction(
                    at=now,
                    slack_user_id=user,
                    rhythm=_clicked_rhythm(config, value),
                    kind="action",
                    name=action_id,
                )
            )
            try:
                board, role = scoreboard_for_action(
                    session,
                    config=config,
                    source=scoreboards,
                    viewer_slack_id=user,
                    value=value,
                    now=now,
                )
            except ScoreboardAccessError as exc:
                session.commit()
                return error_view(str(exc))
            session.commit()
        if action_id == TARGETS_ACTION:
            return targets_view(config, board, role=role, calendar=calendar)
        return details_view(board, currency=config.currency.reporting)

    async def fill(client: Any, view_id: str, action_id: str, user: str, value: str) -> None:
        try:
            view = await asyncio.to_thread(build, action_id, user, value)
        except Exception:
            log.exception("scoreboard %s for %s failed", action_id, user)
            view = error_view("Something went wrong loading the scoreboard. Try again shortly.")
        await client.views_update(view_id=view_id, view=view)

    def handler(action_id: str) -> Handler:
        async def on_click(ack: Ack, body: dict[str, Any], client: Any) -> None:
            await ack()
            user = str(body.get("user", {}).get("id", ""))
            actions = body.get("actions") or [{}]
            value = str(actions[0].get("value", ""))
            try:
                opened = await client.views_open(trigger_id=body["trigger_id"], view=loading_view())
            except (SlackApiError, KeyError):
                log.warning("could not open the scoreboard modal for %s", user)
                return
            view_id = str(opened["view"]["id"])
            background.spawn(fill(client, view_id, action_id, user, value), name=action_id)

        return on_click

    return {DETAILS_ACTION: handler(DETAILS_ACTION), TARGETS_ACTION: handler(TARGETS_ACTION)}


def register_scoreboard_listeners(
    app: AsyncApp,
    *,
    session_factory: sessionmaker[Session],
    clock: Clock,
    config: OrgConfig,
    source: ScoreboardSource | None = None,
    tasks: BackgroundTasks | None = None,
) -> None:
    """Wire the scoreboard buttons into `app` (the lead calls this from the app factory)."""
    handlers = scoreboard_handlers(
        session_factory=session_factory, clock=clock, config=config, source=source, tasks=tasks
    )
    for action_id, on_click in handlers.items():
        app.action(action_id)(on_click)
