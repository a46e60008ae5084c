"""MAPLE in Slack: `/maple`, the prompt's "Open MAPLE" button, "Save draft", the modal's
submission and the emergency "Acknowledge" button.

Thin by design: ack (or answer the view submission), then call `rhythms.maple_flow` in a
worker thread. A submission is stored and committed *before* the modal is allowed to close;
if the database fails, the modal stays open with the person's text and says so. Two
submissions racing (a double click) both close the modal: the one that loses the insert
(IntegrityError on the reply's unique key) is stored again in a fresh transaction, where it
finds the other's reply with the same answers and changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.app import BackgroundTasks
from metrics.clock import Clock
from rhythms.config import OrgConfig
from rhythms.maple_digest import EMERGENCY_ACK_ACTION
from rhythms.maple_emergency import acknowledge_emergency
from rhythms.maple_flow import MapleError, modal_for, submit
from rhythms.maple_modal import CALLBACK_ID, SAVE_DRAFT_ACTION
from rhythms.maple_rhythm import OPEN_ACTION
from rhythms.models import Interaction

log = logging.getLogger(__name__)
Ack = Callable[..., Awaitable[None]]
SAVE_FAILED = (
    "We couldn't save your update just now (the database did not answer). Your "
    "text is still here: press Submit again in a moment."
)


def register_maple_listeners(
    app: AsyncApp,
    *,
    session_factory: sessionmaker[Session],
    clock: Clock,
    config: OrgConfig,
    wake_sender: Callable[[], None] = lambda: None,
    tasks: BackgroundTasks | None = None,
) -> None:
    background = tasks if tasks is not None else BackgroundTasks()

    def record(user: str, kind: str, name: str) -> None:
        with session_factory() as session, session.begin():
            session.add(
                Interaction(
                    at=clock.now(), slack_user_id=user, rhythm="maple", kind=kind, name=name
                )
            )

    def build_view(user: str, value: str | None, with_metrics: bool) -> dict[str, Any]:
        rhythm, _, week = (value or "").partition("|")
        with session_factory() as session:
            return modal_for(
                session,
                config=config,
                slack_user_id=user,
                now=clock.now(),
                rhythm=rhythm or None,
                week=week or None,
                with_metrics=with_metrics,
            )

    async def open_modal(
        client: Any,
        trigger_id: str,
        user: str,
        value: str | None,
        respond: Callable[..., Awaitable[Any]] | None = None,
    ) -> None:
        try:
            view = await asyncio.to_thread(build_view, user, value, False)
        except MapleError as exc:
            if respond is not None:
                await respond(text=str(exc), response_type="ephemeral")
            else:
                await client.chat_postEphemeral(channel=user, user=user, text=str(exc))
            return
        try:
            opened = await client.views_open(trigger_id=trigger_id, view=view)
        except SlackApiError as exc:
            log.warning("MAPLE modal did not open for %s: %s", user, exc.response.get("error"))
            return
        background.spawn(fill_metrics(client, opened["view"], user, value), name="maple metrics")
        await asyncio.to_thread(record, user, "view", "maple_open")

    async def fill_metrics(
        client: Any, opened: dict[str, Any], user: str, value: str | None
    ) -> None:
        try:
            view = await asyncio.to_thread(build_view, user, value, True)
            await client.views_update(view_id=opened["id"], hash=opened.get("hash"), view=view)
        except SlackApiError as exc:  # hash_conflict: the person already typed; keep theirs
            log.info("MAPLE metrics not filled for %s: %s", user, exc.response.get("error"))
        except Exception:
            log.exception("MAPLE metrics for %s failed", user)

    async def maple_command(
        ack: Ack, body: dict[str, Any], client: Any, respond: Callable[..., Awaitable[Any]]
    ) -> None:
        await ack()
        await open_modal(client, str(body["trigger_id"]), str(body["user_id"]), None, respond)

    async def open_button(ack: Ack, body: dict[str, Any], client: Any) -> None:
        await ack()
        value = str((body.get("actions") or [{}])[0].get("value") or "")
        await open_modal(client, str(body["trigger_id"]), str(body["user"]["id"]), value)

    def store(user: str, view: dict[str, Any], draft: bool) -> Any:
        for attempt in range(3):
            try:
                with session_factory() as session:
                    outcome = submit(
                        session,
                        config=config,
                        view=view,
                        slack_user_id=user,
                        now=clock.now(),
                        draft=draft,
                    )
                    session.commit()
                    return outcome
            except IntegrityError:
                # Another submission of this person's update won the insert; read it
                # back and save again (identical answers: nothing new is written).
                if attempt == 2:
                    raise
                log.info("MAPLE save for %s raced another; retrying", user)
        raise AssertionError("unreachable")

    async def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = str(body["user"]["id"])
        try:
            outcome = await asyncio.to_thread(store, user, view, False)
        except MapleError as exc:
            await ack(response_action="errors", errors={"advanced": str(exc)})
            return
        except SQLAlchemyError:
            log.exception("MAPLE submission from %s could not be stored", user)
            await ack(response_action="errors", errors={"advanced": SAVE_FAILED})
            return
        if outcome.errors:
            await ack(response_action="errors", errors=outcome.errors)
            return
        await ack()
        wake_sender()
        await asyncio.to_thread(record, user, "view", "maple_submit")

    async def save_draft(ack: Ack, body: dict[str, Any], client: Any) -> None:
        await ack()
        user, view = str(body["user"]["id"]), body.get("view") or {}
        try:
            outcome = await asyncio.to_thread(store, user, view, True)
        except (MapleError, SQLAlchemyError) as exc:
            log.warning("MAPLE draft for %s not saved: %s", user, type(exc).__name__)
            return
        if outcome.view is not None:
            try:
                await client.views_update(
                    view_id=view["id"], hash=view.get("hash"), view=outcome.view
                )
            except SlackApiError as exc:
                log.info("draft view not refreshed for %s: %s", user, exc.response.get("error"))

    async def emergency_ack(ack: Ack, body: dict[str, Any], respond: Any) -> None:
        await ack()
        user = str(body["user"]["id"])
        value = str((body.get("actions") or [{}])[0].get("value") or "")

        def work() -> bool:
            with session_factory() as session:
                done = acknowledge_emergency(session, reply_id=int(value), by=user, now=clock.now())
                session.commit()
                return done

        try:
            done = await asyncio.to_thread(work)
        except ValueError:
            return
        wake_sender()
        if not done:
            await respond(
                text="Someone already acknowledged this emergency.",
                response_type="ephemeral",
                replace_original=False,
            )

    app.command("/maple")(maple_command)
    app.action(OPEN_ACTION)(open_button)
    app.action(SAVE_DRAFT_ACTION)(save_draft)
    app.view(CALLBACK_ID)(on_submit)
    app.action(EMERGENCY_ACK_ACTION)(emergency_ack)
