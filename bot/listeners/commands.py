"""Slash commands: `/metric`, `/scoreboard`, `/drumbeat`, `/velocity`, plus the game-plan
modal and the "How is this computed?" button.

Every command is acknowledged at once; the answer is computed from rollups in a worker
thread and sent through `respond` (ephemeral unless the person asked for `public`). Charts
go through the outbox as uploads (to the person's DM, or the channel with `public`).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from sqlalchemy.orm import Session, sessionmaker

from bot.app import BackgroundTasks
from metrics.charts import renderer
from metrics.clock import Clock
from metrics.lookup import catalog_for
from rhythms.commands import drumbeat_command, velocity_reply
from rhythms.config import OrgConfig
from rhythms.explain import explain_blocks
from rhythms.game_plan import CALLBACK_ID as GAME_PLAN_CALLBACK
from rhythms.game_plan import OPEN_ACTION as GAME_PLAN_OPEN
from rhythms.game_plan import game_plan_modal, submit_game_plan
from rhythms.maple import get_reply
from rhythms.metric_answer import Refused, answer, answer_blocks, catalog_blocks, resolve_subject
from rhythms.metric_query import USAGE, QueryError, parse_query, team_words
from rhythms.models import Interaction
from rhythms.outbox import enqueue
from rhythms.permissions import viewer_for
from rhythms.scoreboard_command import scoreboard_reply

log = logging.getLogger(__name__)
Ack = Callable[..., Awaitable[None]]
Respond = Callable[..., Awaitable[Any]]
OOPS = "Something went wrong on our side; it has been logged. Try again in a minute."


def register_command_listeners(
    app: AsyncApp,
    *,
    session_factory: sessionmaker[Session],
    clock: Clock,
    config: OrgConfig,
    wake_sender: Callable[[], None] = lambda: None,
    start_sync: Callable[[], None] = lambda: None,
    tasks: BackgroundTasks | None = None,
) -> None:
    background = tasks if tasks is not None else BackgroundTasks()
    teams = team_words([(t.key, t.name, t.channel) for t in config.teams])

    def metric_work(user: str, channel: str, text: str) -> dict[str, Any]:
        with session_factory() as session:
            now = clock.now()
            session.add(Interaction(at=now, slack_user_id=user, kind="command", name="metric"))
            session.commit()
            if text.strip().lower() in ("list", "help", "?"):
                body, blocks = (
                    catalog_blocks(config)
                    if text.strip().lower() == "list"
                    else ("usage", [{"type": "section", "text": {"type": "mrkdwn", "text": USAGE}}])
                )
                return {"text": body, "blocks": blocks, "response_type": "ephemeral"}
            query = parse_query(text, catalog_for(config), teams)
            viewer = viewer_for(session, user)
            subject = resolve_subject(session, config=config, viewer=viewer, target=query.target)
            result = answer(session, config=config, query=query, subject=subject, now=now)
            body, blocks = answer_blocks(
                result, currency=config.currency.reporting, now=now, compare=True
            )
            if query.chart and result.daily:
                png = renderer().trend(
                    f"{result.label} · {result.subject}",
                    [result.start + dt.timedelta(days=i) for i in range(len(result.daily))],
                    list(result.daily),
                    unit=result.unit,
                )
                enqueue(
                    session,
                    rhythm="commands",
                    period_key=f"metric:{now.isoformat()}",
                    recipient=channel if query.public else user,
                    kind="upload",
                    now=now,
                    payload={
                        "filename": f"{result.metric}.png",
                        "title": body[:200],
                        "content_base64": base64.b64encode(png).decode(),
                    },
                )
                session.commit()
            return {
                "text": body,
                "blocks": blocks,
                "response_type": "in_channel" if query.public else "ephemeral",
            }

    def scoreboard_work(user: str, text: str) -> dict[str, Any]:
        with session_factory() as session:
            now = clock.now()
            session.add(
                Interaction(
                    at=now,
                    slack_user_id=user,
                    kind="command",
                    name="scoreboard",
                    rhythm="daily_scoreboard",
                )
            )
            session.commit()
            payload = scoreboard_reply(
                session, config=config, viewer=viewer_for(session, user), text=text, now=now
            )
            return {**payload, "response_type": "ephemeral"}

    def drumbeat_work(user: str, text: str) -> dict[str, Any]:
        with session_factory() as session:
            now = clock.now()
            reply = drumbeat_command(
                session,
                config=config,
                viewer=viewer_for(session, user),
                slack_user_id=user,
                text=text,
                now=now,
            )
            session.add(
                Interaction(
                    at=now,
                    slack_user_id=user,
                    kind="command",
                    name=f"drumbeat {(text.split() or ['help'])[0]}"[:64],
                )
            )
            session.commit()
        if reply.start_sync:
            start_sync()
        return {"text": reply.text, "blocks": reply.blocks, "response_type": "ephemeral"}

    def velocity_work(user: str, text: str) -> dict[str, Any]:
        with session_factory() as session:
            now = clock.now()
            viewer = viewer_for(session, user)
            reply = velocity_reply(
                session,
                config=config,
                viewer=viewer,
                team_word=text.strip() or None,
                today=now.date(),
            )
            session.add(Interaction(at=now, slack_user_id=user, kind="command", name="velocity"))
            session.commit()
        return {"text": reply.text, "blocks": reply.blocks, "response_type": "ephemeral"}

    async def answer_with(respond: Respond, work: Callable[[], dict[str, Any]]) -> None:
        try:
            payload = await asyncio.to_thread(work)
        except (QueryError, Refused, ValueError) as exc:
            await respond(text=str(exc), response_type="ephemeral")
            return
        except Exception:
            log.exception("command failed")
            await respond(text=OOPS, response_type="ephemeral")
            return
        wake_sender()
        await respond(**payload)

    def command(work: Callable[[str, str, str], dict[str, Any]]) -> Callable[..., Any]:
        async def on_command(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
            await ack()
            user, channel = str(body.get("user_id", "")), str(body.get("channel_id", ""))
            text = str(body.get("text") or "")[:500]
            background.spawn(
                answer_with(respond, lambda: work(user, channel, text)), name="command"
            )

        return on_command

    app.command("/metric")(command(metric_work))
    app.command("/scoreboard")(command(lambda u, _c, t: scoreboard_work(u, t)))
    app.command("/drumbeat")(command(lambda u, _c, t: drumbeat_work(u, t)))
    app.command("/velocity")(command(lambda u, _c, t: velocity_work(u, t)))

    def plan_view(user: str, month: str) -> dict[str, Any]:
        with session_factory() as session:
            viewer = viewer_for(session, user)
            if viewer is None:
                raise Refused("I don't know you yet: ask your RevOps admin to add you.")
            reply = get_reply(session, rhythm="game_plan", period_key=month, person_id=viewer.id)
            return game_plan_modal(
                month=month, person_id=viewer.id, answers=reply.answers if reply else None
            )

    async def open_plan(ack: Ack, body: dict[str, Any], client: Any, respond: Respond) -> None:
        await ack()
        user = str(body["user"]["id"])
        month = str((body.get("actions") or [{}])[0].get("value") or "")
        try:
            view = await asyncio.to_thread(plan_view, user, month)
        except (Refused, ValueError) as exc:
            await respond(text=str(exc), response_type="ephemeral", replace_original=False)
            return
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    def store_plan(user: str, view: dict[str, Any]) -> dict[str, str]:
        with session_factory() as session:
            viewer = viewer_for(session, user)
            if viewer is None:
                return {"resource": "I don't know you yet: ask your RevOps admin to add you."}
            errors = submit_game_plan(
                session, config=config, view=view, person=viewer, now=clock.now()
            )
            session.commit()
            return errors

    async def submit_plan(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        try:
            errors = await asyncio.to_thread(store_plan, str(body["user"]["id"]), view)
        except Exception:
            log.exception("game plan not stored")
            errors = {
                "resource": "We couldn't save your plan just now; your text is still "
                "here: press Share plan again in a moment."
            }
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        wake_sender()

    async def explain(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        await ack()
        topic = str((body.get("actions") or [{}])[0].get("value") or "")
        text, blocks = explain_blocks(config, topic)
        await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

    app.action(GAME_PLAN_OPEN)(open_plan)
    app.view(GAME_PLAN_CALLBACK)(submit_plan)
    app.action("explain_metric")(explain)
