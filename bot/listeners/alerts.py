"""Alert buttons: Acknowledge, Snooze 1h, Snooze today, Open scoreboard.

The ack/snooze rewrite the alert message for everyone (through the outbox: `chat.update`),
and the clicker gets a short ephemeral confirmation. Open scoreboard answers the clicker
(ephemeral) with the scoreboard of the alert's subject, or the team's, as far as they may
see it (`rhythms.alert_scoreboard`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from sqlalchemy.orm import Session, sessionmaker

from metrics.clock import Clock
from metrics.directory import person_timezone
from metrics.models import Person
from rhythms.alert_messages import (
    ACK_ACTION,
    OPEN_SCOREBOARD_ACTION,
    SNOOZE_DAY_ACTION,
    SNOOZE_HOUR_ACTION,
)
from rhythms.alert_scoreboard import alert_scoreboards
from rhythms.alerts import act_on_message
from rhythms.config import OrgConfig
from rhythms.models import Interaction

Ack = Callable[..., Awaitable[None]]
ACTIONS = {ACK_ACTION: "ack", SNOOZE_HOUR_ACTION: "snooze_1h", SNOOZE_DAY_ACTION: "snooze_today"}


def register_alert_listeners(
    app: AsyncApp,
    *,
    session_factory: sessionmaker[Session],
    clock: Clock,
    config: OrgConfig,
    wake_sender: Callable[[], None] = lambda: None,
) -> None:
    def where(body: dict[str, Any]) -> tuple[str, str, str]:
        container = body.get("container") or {}
        channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id", ""))
        return str(body["user"]["id"]), channel, str(container.get("message_ts") or "")

    def work(action: str, body: dict[str, Any]) -> str:
        user, channel, ts = where(body)
        with session_factory() as session:
            person = session.query(Person).filter(Person.slack_user_id == user).first()
            zone = person_timezone(person, config.org.timezone) if person else config.org.timezone
            session.add(
                Interaction(
                    at=clock.now(), slack_user_id=user, rhythm="alerts", kind="action", name=action
                )
            )
            reply = act_on_message(
                session,
                config=config,
                action=action,
                channel=channel,
                ts=ts,
                user=user,
                now=clock.now(),
                zone=zone,
            )
            session.commit()
        return reply

    def handler(action: str) -> Callable[..., Awaitable[None]]:
        async def on_click(ack: Ack, body: dict[str, Any], respond: Any) -> None:
            await ack()
            reply = await asyncio.to_thread(work, action, body)
            wake_sender()
            await respond(text=reply, response_type="ephemeral", replace_original=False)

        return on_click

    def boards(body: dict[str, Any]) -> list[dict[str, Any]]:
        user, channel, ts = where(body)
        value = str(((body.get("actions") or [{}])[0]).get("value", ""))
        with session_factory() as session:
            now = clock.now()
            session.add(
                Interaction(
                    at=now,
                    slack_user_id=user,
                    rhythm="alerts",
                    kind="action",
                    name="open_scoreboard",
                )
            )
            payloads = alert_scoreboards(
                session, config=config, clicker=user, value=value, channel=channel, ts=ts, now=now
            )
            session.commit()
        return payloads

    async def open_scoreboard(ack: Ack, body: dict[str, Any], respond: Any) -> None:
        await ack()
        for payload in await asyncio.to_thread(boards, body):
            await respond(**payload, response_type="ephemeral", replace_original=False)

    for action_id, action in ACTIONS.items():
        app.action(action_id)(handler(action))
    app.action(OPEN_SCOREBOARD_ACTION)(open_scoreboard)
