"""MAPLE end to end over the sandbox: prompt at local time → button → modal (metrics filled
after opening) → inline errors → submission stored before the modal closes → emergency to
the CRO in the same request cycle → edit keeps history → a database failure keeps the modal
open with nothing lost."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox.users import seed_from_config
from metrics.clock import TravellingClock
from metrics.directory import apply_directory
from metrics.models import Person
from rhythms.config import load_org_config
from rhythms.engine import RhythmEngine
from rhythms.maple import get_reply, revisions
from rhythms.maple_rhythm import maple_prompt_spec
from rhythms.models import Delivery
from rhythms.registry import Registry
from tests.bot.slack_env import bot, eventually, sandbox
from tests.conftest import EXAMPLE_CONFIG

FRIDAY_2PM_NY = dt.datetime(2026, 11, 20, 19, 0, tzinfo=dt.UTC)


class FlakyFactory:
    """A session factory whose commits fail while `broken` is set (the database is down)."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self.broken = False

    def __call__(self) -> Session:
        session = self.factory()
        if self.broken:

            def fail() -> None:
                raise OperationalError("COMMIT", {}, ConnectionError("database is down"))

            session.commit = fail  # type: ignore[method-assign]
        return session


def _text(value: str) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": value}}


def _button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return {**element, "block_id": block.get("block_id", "b")}
    raise AssertionError(f"no {action_id} button in {json.dumps(message)[:300]}")


def test_maple_round_trip(session_factory: sessionmaker[Session]) -> None:
    cfg = load_org_config(EXAMPLE_CONFIG)
    cfg = cfg.model_copy(update={"rhythms": {"maple": cfg.rhythms["maple"]}, "alerts": ()})
    clock = TravellingClock(FRIDAY_2PM_NY)
    flaky = FlakyFactory(session_factory)
    with sandbox() as sb:
        ids = seed_from_config(sb.state, cfg)
        with session_factory() as s:
            apply_directory(s, cfg, today=FRIDAY_2PM_NY.date())
            for person in s.scalars(select(Person)):
                person.slack_user_id = ids[person.email]
            s.commit()
        maria, olivia = ids["maria.gonzalez@acme.example"], ids["olivia.hart@acme.example"]
        registry = Registry()
        registry.register(maple_prompt_spec())
        engine = RhythmEngine(
            session_factory=session_factory, config=cfg, clock=clock, registry=registry
        )

        async def scenario() -> None:
            async with bot(sb, flaky, clock=clock, config=cfg) as b:  # type: ignore[arg-type]
                assert b.driver is not None
                sender = b.sender(session_factory, clock)
                engine.tick()
                await sender.drain()
                prompt = sb.state.dm_messages(maria)[-1]
                assert "weekly MAPLE update" in prompt["text"]
                button = _button(prompt, "maple_open")
                opened = await b.driver.block_actions(
                    user=maria,
                    actions=[button],
                    channel=sb.state.dm_with(maria).id,
                    message_ts=prompt["ts"],
                )
                assert opened.status == 200 and opened.elapsed < 3
                view = await eventually(lambda: next(iter(sb.state.open_views(maria)), None))
                filled = await eventually(
                    lambda: next(
                        (
                            v
                            for v in sb.state.open_views(maria)
                            if "Loading" not in json.dumps(v["blocks"], ensure_ascii=False)
                        ),
                        None,
                    )
                )
                assert "M · Metrics" in json.dumps(filled["blocks"], ensure_ascii=False)

                bad = await b.driver.view_submission(
                    user=maria,
                    view=view,
                    values={"advanced": _text("   "), "planned": _text("- Hire")},
                )
                assert bad.json()["response_action"] == "errors"
                assert "advanced" in bad.json()["errors"]

                good = await b.driver.view_submission(
                    user=maria,
                    view=view,
                    values={
                        "advanced": _text("Closed Initech"),
                        "planned": _text("- Hire SDR\n- QBR"),
                        "emergencies": _text("Globex churning: need an exec call today"),
                    },
                )
                assert good.status == 200 and not good.body  # closed: stored already
                with session_factory() as s:
                    person = s.scalars(select(Person).where(Person.slack_user_id == maria)).one()
                    reply = get_reply(s, rhythm="maple", period_key="2026-W47", person_id=person.id)
                    assert reply is not None and reply.status == "submitted"
                    queued = s.scalars(
                        select(Delivery).where(Delivery.rhythm == "maple_emergency")
                    ).all()
                    assert olivia in {d.recipient for d in queued}  # written in that request
                await sender.drain()
                assert "Globex churning" in json.dumps(sb.state.dm_messages(olivia))
                assert any(
                    "Your MAPLE update for Week 47" in m.get("text", "") and "is in" in m["text"]
                    for m in sb.state.dm_messages(maria)
                )

                edited = await b.driver.view_submission(
                    user=maria,
                    view=view,
                    values={
                        "advanced": _text("Closed Initech and Hooli"),
                        "planned": _text("- Hire SDR"),
                        "emergencies": _text("Globex churning: need an exec call today"),
                    },
                )
                assert edited.status == 200 and not edited.body
                flaky.broken = True
                down = await b.driver.view_submission(
                    user=maria,
                    view=view,
                    values={
                        "advanced": _text("This text must not be lost"),
                        "planned": _text("- x"),
                    },
                )
                flaky.broken = False
                assert down.json()["response_action"] == "errors"
                assert "still here" in down.json()["errors"]["advanced"]
                with session_factory() as s:
                    person = s.scalars(select(Person).where(Person.slack_user_id == maria)).one()
                    reply = get_reply(s, rhythm="maple", period_key="2026-W47", person_id=person.id)
                    assert reply is not None
                    assert reply.answers["advanced"] == "Closed Initech and Hooli"
                    assert len(revisions(s, reply_id=reply.id)) == 2  # the edit kept history

        asyncio.run(scenario())
