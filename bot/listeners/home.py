"""App Home: publish the person's view on `app_home_opened`, and the admin switchboard's
buttons (on/off, change time, send me a preview now)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from sqlalchemy.orm import Session, sessionmaker

from bot.app import BackgroundTasks
from metrics.clock import Clock
from rhythms.config import OrgConfig
from rhythms.engine import EngineError, RhythmEngine
from rhythms.home_view import (
    PREVIEW_ACTION,
    RETIME_ACTION,
    RETIME_CALLBACK,
    TOGGLE_ACTION,
    home_view,
    retime_modal,
)
from rhythms.models import Interaction, RhythmOverride
from rhythms.outbox import enqueue
from rhythms.permissions import is_admin, viewer_for
from rhythms.switchboard import effective, set_rhythm

log = logging.getLogger(__name__)
Ack = Callable[..., Awaitable[None]]


def register_home_listeners(
    app: AsyncApp,
    *,
    session_factory: sessionmaker[Session],
    clock: Clock,
    config: OrgConfig,
    engine: RhythmEngine | None = None,
    wake_sender: Callable[[], None] = lambda: None,
    tasks: BackgroundTasks | None = None,
) -> None:
    background = tasks if tasks is not None else BackgroundTasks()

    def build(user: str) -> dict[str, Any]:
        with session_factory() as session:
            view = home_view(session, config=config, slack_user_id=user, now=clock.now())
            session.add(
                Interaction(at=clock.now(), slack_user_id=user, kind="home", name="app_home_opened")
            )
            session.commit()
            return view

    async def publish(client: Any, user: str) -> None:
        try:
            view = await asyncio.to_thread(build, user)
            await client.views_publish(user_id=user, view=view)
        except Exception:
            log.exception("App Home for %s not published", user)

    async def opened(event: dict[str, Any], client: Any) -> None:
        if event.get("tab") in (None, "home"):
            background.spawn(publish(client, str(event["user"])), name="app home")

    def admin_only(user: str) -> bool:
        with session_factory() as session:
            return is_admin(viewer_for(session, user))

    def toggle(user: str, name: str) -> None:
        with session_factory() as session:
            current = effective(config, session.get(RhythmOverride, name), name)
            set_rhythm(
                session,
                config=config,
                name=name,
                actor=user,
                now=clock.now(),
                enabled=not current.enabled,
            )
            session.commit()

    async def on_toggle(ack: Ack, body: dict[str, Any], client: Any) -> None:
        await ack()
        user, name = str(body["user"]["id"]), _value(body)
        if not await asyncio.to_thread(admin_only, user):
            return
        try:
            await asyncio.to_thread(toggle, user, name)
        except ValueError as exc:
            log.warning("switchboard toggle refused: %s", exc)
        await publish(client, user)

    async def on_retime(ack: Ack, body: dict[str, Any], client: Any) -> None:
        await ack()
        user, name = str(body["user"]["id"]), _value(body)
        if name not in config.rhythms or not await asyncio.to_thread(admin_only, user):
            return

        def current() -> str:
            with session_factory() as session:
                return effective(config, session.get(RhythmOverride, name), name).schedule

        schedule = await asyncio.to_thread(current)
        await client.views_open(trigger_id=body["trigger_id"], view=retime_modal(name, schedule))

    async def on_retime_submit(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: Any
    ) -> None:
        user, name = str(body["user"]["id"]), str(view.get("private_metadata") or "")
        value = (((view.get("state") or {}).get("values") or {}).get("schedule") or {}).get(
            "value", {}
        ).get("value") or ""

        def save() -> str | None:
            if not admin_only(user):
                return "Only admins can change rhythms."
            with session_factory() as session:
                try:
                    set_rhythm(
                        session,
                        config=config,
                        name=name,
                        actor=user,
                        now=clock.now(),
                        schedule=" ".join(str(value).split()),
                    )
                except ValueError as exc:
                    return str(exc)
                session.commit()
            return None

        error = await asyncio.to_thread(save)
        if error:
            await ack(response_action="errors", errors={"schedule": error[:150]})
            return
        await ack()
        await publish(client, user)

    def preview(user: str, name: str) -> int:
        if engine is None:
            raise EngineError("previews need the running scheduler")
        with session_factory() as session:
            person = viewer_for(session, user)
            if person is None or not is_admin(person):
                return 0
            now = clock.now()
            outgoing = engine.preview(session, rhythm_name=name, at=now)
            sample = [o for o in outgoing if o.kind == "message"][:1]
            for o in sample:
                payload = {**o.payload, "text": f"[preview of {name}] " + str(o.payload["text"])}
                enqueue(
                    session,
                    rhythm="preview",
                    period_key=f"{name}:{now.isoformat()}",
                    recipient=user,
                    payload=payload,
                    now=now,
                )
            session.commit()
            return len(sample)

    async def on_preview(ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        user, name = str(body["user"]["id"]), _value(body)
        try:
            sent = await asyncio.to_thread(preview, user, name)
        except EngineError as exc:
            log.warning("preview of %s failed: %s", name, exc)
            sent = 0
        if sent:
            wake_sender()

    app.event("app_home_opened")(opened)
    app.action(TOGGLE_ACTION)(on_toggle)
    app.action(RETIME_ACTION)(on_retime)
    app.view(RETIME_CALLBACK)(on_retime_submit)
    app.action(PREVIEW_ACTION)(on_preview)


def _value(body: dict[str, Any]) -> str:
    return str((body.get("actions") or [{}])[0].get("value") or "")
