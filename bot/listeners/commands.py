"""Slash commands: `/metric`, `/scoreboard`, `/drumbeat`, `/velocity`, plus the game-plan
modal and the "How is this computed?" button.

`/metric` answers in the body of the ack itself when the answer is ready within
`ANSWER_BUDGET` seconds (Slack shows an ack body as the reply; it waits 3 s for the ack), so
the common lookup costs one HTTP exchange; past the budget it acks empty and answers through
`respond` (the response_url) when done. `chart` and `public` always take that second path.
The other commands ack at once and answer through `respond`. Answers are computed from
rollups in a worker thread, ephemeral unless the person asked for `public`. Charts go
through the outbox as uploads (to the person's DM, or the channel with `public`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.app import BackgroundTasks
from bot.listeners import rhythm_named
from metrics.clock import Clock
from metrics.lookup import catalog_for
from rhythms.commands import drumbeat_command, velocity_reply
from rhythms.config import RHYTHM_KINDS, OrgConfig
from rhythms.explain import explain_blocks
from rhythms.game_plan import CALLBACK_ID as GAME_PLAN_CALLBACK
from rhythms.game_plan import OPEN_ACTION as GAME_PLAN_OPEN
from rhythms.game_plan import game_plan_modal, submit_game_plan
from rhythms.maple import get_reply
from rhythms.metric_answer import (
    Freshness,
    Refused,
    answer,
    answer_blocks,
    catalog_blocks,
    freshness,
    resolve_subject,
)
from rhythms.metric_chart import chart_reply
from rhythms.metric_numbers import viewer
from rhythms.metric_query import USAGE, QueryError, config_team_words, parse_query
from rhythms.models import Interaction
from rhythms.outbox import enqueue
from rhythms.permissions import can_post_in_channel, viewer_for
from rhythms.scoreboard_command import scoreboard_reply

log = logging.getLogger(__name__)
Ack = Callable[..., Awaitable[None]]
Respond = Callable[..., Awaitable[Any]]
OOPS = "Something went wrong on our side; it has been logged. Try again in a minute."
ANSWER_BUDGET = 1.5  # seconds a /metric answer may take to ride in the ack's body
FRESHNESS_TTL = 5.0  # seconds one reading of "when was the last sync" serves all answers
_RECORD = insert(Interaction)  # built once; run as Core on the connection: one row per command


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
    teams = config_team_words(config)
    fresh = _Freshness()

    def metric_work(user: str, channel: str, text: str) -> dict[str, Any]:
        with session_factory() as session:
            now = clock.now()
            broken = False
            try:
                return metric_reply(session, user, channel, text, now)
            except SQLAlchemyError:
                broken = True  # the transaction is gone: nothing to record
                raise
            finally:  # written last: SQLite's write lock is held from the first write
                if not broken:
                    row = {"at": now, "slack_user_id": user, "kind": "command", "name": "metric"}
                    session.connection().execute(_RECORD, row)
                    session.commit()

    def metric_reply(
        session: Session, user: str, channel: str, text: str, now: dt.datetime
    ) -> dict[str, Any]:
        if text.strip().lower() in ("list", "help", "?"):
            body, blocks = (
                catalog_blocks(config)
                if text.strip().lower() == "list"
                else ("usage", [{"type": "section", "text": {"type": "mrkdwn", "text": USAGE}}])
            )
            return {"text": body, "blocks": blocks, "response_type": "ephemeral"}
        query = parse_query(text, catalog_for(config), teams)
        asker = viewer(session, user)
        subject = resolve_subject(session, config=config, viewer=asker, target=query.target)
        if query.public and asker is not None:
            person_id = int(subject.scope.key or 0) if subject.scope.kind == "person" else None
            shared = can_post_in_channel(asker, person_id, config)
            if not shared.allowed:
                raise Refused(shared.reason)
        result = answer(
            session, config=config, query=query, subject=subject, now=now, fresh=fresh.read(session)
        )
        body, blocks = answer_blocks(
            result, currency=config.currency.reporting, now=now, compare=True
        )
        upload = None
        if query.chart:  # the message's numbers per day with their targets, or why not
            blocks, upload = chart_reply(
                session,
                config=config,
                query=query,
                subject=subject,
                result=result,
                now=now,
                body=body,
                blocks=blocks,
            )
        if upload is not None:
            enqueue(
                session,
                rhythm="commands",
                period_key=f"metric:{now.isoformat()}",
                recipient=channel if query.public else user,
                kind="upload",
                now=now,
                payload=upload,
            )
        return {
            "text": body,
            "blocks": blocks,
            "response_type": "in_channel" if query.public else "ephemeral",
        }

    def scoreboard_work(user: str, text: str) -> dict[str, Any]:
        with session_factory() as session:
            now = clock.now()
            # a command of its own in the usage report, not a use of the daily DM rhythm
            session.add(Interaction(at=now, slack_user_id=user, kind="command", name="scoreboard"))
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

    async def payload_of(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The reply to a command: its answer, or what was wrong with it."""
        try:
            payload = await asyncio.to_thread(work)
        except (QueryError, Refused, ValueError) as exc:
            return {"text": str(exc), "response_type": "ephemeral"}
        except Exception:
            log.exception("command failed")
            return {"text": OOPS, "response_type": "ephemeral"}
        wake_sender()
        return payload

    async def answer_with(respond: Respond, work: Callable[[], dict[str, Any]]) -> None:
        await respond(**await payload_of(work))

    async def respond_when_done(respond: Respond, reply: asyncio.Task[dict[str, Any]]) -> None:
        await respond(**await reply)

    async def on_metric(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        user, channel = str(body.get("user_id", "")), str(body.get("channel_id", ""))
        text = str(body.get("text") or "")[:500]
        reply = asyncio.create_task(payload_of(lambda: metric_work(user, channel, text)))
        words = text.lower().split()
        if "chart" not in words and "public" not in words:
            done, _ = await asyncio.wait({reply}, timeout=ANSWER_BUDGET)
            if done:
                await ack(reply.result())  # the answer rides in the ack's body
                return
        await ack()
        background.spawn(respond_when_done(respond, reply), name="command")

    def command(work: Callable[[str, str, str], dict[str, Any]]) -> Callable[..., Any]:
        async def on_command(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
            await ack()
            user, channel = str(body.get("user_id", "")), str(body.get("channel_id", ""))
            text = str(body.get("text") or "")[:500]
            background.spawn(
                answer_with(respond, lambda: work(user, channel, text)), name="command"
            )

        return on_command

    app.command("/metric")(on_metric)
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

    def record_plan(user: str, kind: str, name: str) -> None:
        """A game-plan open or submission, counted under the rhythm's configured name."""
        try:
            with session_factory() as session:
                session.add(
                    Interaction(
                        at=clock.now(),
                        slack_user_id=user,
                        rhythm=rhythm_named(config, "game_plan"),
                        kind=kind,
                        name=name,
                    )
                )
                session.commit()
        except SQLAlchemyError:
            log.warning("game plan %s not recorded", kind, exc_info=True)

    async def open_plan(ack: Ack, body: dict[str, Any], client: Any, respond: Respond) -> None:
        await ack()
        user = str(body["user"]["id"])
        await asyncio.to_thread(record_plan, user, "action", GAME_PLAN_OPEN)
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
        await asyncio.to_thread(record_plan, str(body["user"]["id"]), "view", GAME_PLAN_CALLBACK)
        wake_sender()

    def record_explain(user: str, topic: str) -> None:
        """A "How is this computed?" click, counted under the rhythm whose post it is on
        (the button's value is the rhythm's kind: `control_tower`, `monthly_review`)."""
        rhythm = rhythm_named(config, topic) if topic in RHYTHM_KINDS else None
        try:
            with session_factory() as session:
                session.add(
                    Interaction(
                        at=clock.now(),
                        slack_user_id=user,
                        rhythm=rhythm,
                        kind="action",
                        name="explain_metric",
                    )
                )
                session.commit()
        except SQLAlchemyError:
            log.warning("explain click not recorded", exc_info=True)

    async def explain(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        await ack()
        topic = str((body.get("actions") or [{}])[0].get("value") or "")
        await asyncio.to_thread(record_explain, str((body.get("user") or {}).get("id", "")), topic)
        text, blocks = explain_blocks(config, topic)
        await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

    app.action(GAME_PLAN_OPEN)(open_plan)
    app.view(GAME_PLAN_CALLBACK)(submit_plan)
    app.action("explain_metric")(explain)


class _Freshness:
    """`freshness(session)` read at most once per `FRESHNESS_TTL` seconds (monotonic time:
    a cache age, not a domain time). Every answer shows it; none needs it to the second."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: Freshness | None = None
        self._read_at = 0.0

    def read(self, session: Session) -> Freshness:
        with self._lock:
            if self._value is not None and time.monotonic() - self._read_at < FRESHNESS_TTL:
                return self._value
        value = freshness(session)
        with self._lock:
            self._value, self._read_at = value, time.monotonic()
        return value
