"""The MAPLE listeners over signed HTTP against the sandbox: a double-clicked Submit (two
view submissions at once) is stored once and confirmed once, and `/maple` while MAPLE is
switched off answers with a message instead of a modal."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox.users import seed_from_config
from metrics.clock import TravellingClock
from metrics.directory import apply_directory
from metrics.models import Person
from rhythms.config import OrgConfig, load_org_config
from rhythms.maple import get_reply, revisions
from rhythms.maple_flow import modal_for
from rhythms.models import Delivery
from rhythms.switchboard import set_rhythm
from tests.bot.slack_env import bot, eventually, sandbox
from tests.conftest import EXAMPLE_CONFIG

FRIDAY_2PM_NY = dt.datetime(2026, 11, 20, 19, 0, tzinfo=dt.UTC)


def _config() -> OrgConfig:
    cfg = load_org_config(EXAMPLE_CONFIG)
    return cfg.model_copy(update={"rhythms": {"maple": cfg.rhythms["maple"]}, "alerts": ()})


def _text(value: str) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": value}}


def _directory(sb: Any, factory: sessionmaker[Session], cfg: OrgConfig) -> dict[str, str]:
    ids = seed_from_config(sb.state, cfg)
    with factory() as s:
        apply_directory(s, cfg, today=FRIDAY_2PM_NY.date())
        for person in s.scalars(select(Person)):
            person.slack_user_id = ids[person.email]
        s.commit()
    return ids


def test_a_double_clicked_submit_is_stored_and_confirmed_once(
    session_factory: sessionmaker[Session],
) -> None:
    cfg = _config()
    clock = TravellingClock(FRIDAY_2PM_NY)
    with sandbox() as sb:
        ids = _directory(sb, session_factory, cfg)
        maria = ids["maria.gonzalez@acme.example"]
        with session_factory() as s:
            view = modal_for(s, config=cfg, slack_user_id=maria, now=clock.now())
        values = {"advanced": _text("Closed Initech"), "planned": _text("- Hire")}

        async def scenario() -> None:
            async with bot(sb, session_factory, clock=clock, config=cfg) as b:
                assert b.driver is not None
                replies = await asyncio.gather(
                    *(b.driver.view_submission(user=maria, view=view, values=values) for _ in "ab")
                )
                # both close the modal: neither says the database did not answer
                assert [(r.status, r.body) for r in replies] == [(200, ""), (200, "")]
                again = await b.driver.view_submission(user=maria, view=view, values=values)
                assert (again.status, again.body) == (200, "")
                await b.sender(session_factory, clock).drain()
                thanks = await eventually(
                    lambda: [m for m in sb.state.dm_messages(maria) if "✅" in m.get("text", "")]
                )
                assert len(thanks) == 1 and "is in" in thanks[0]["text"]

        asyncio.run(scenario())
        with session_factory() as s:
            person = s.scalars(select(Person).where(Person.slack_user_id == maria)).one()
            reply = get_reply(s, rhythm="maple", period_key="2026-W47", person_id=person.id)
            assert reply is not None and reply.status == "submitted"
            assert len(revisions(s, reply_id=reply.id)) == 1
            confirmations = s.scalars(
                select(Delivery).where(Delivery.period_key == "thanks:2026-W47")
            ).all()
            assert len(confirmations) == 1


def test_maple_switched_off_answers_with_a_message_not_a_modal(
    session_factory: sessionmaker[Session],
) -> None:
    cfg = _config()
    clock = TravellingClock(FRIDAY_2PM_NY)
    with sandbox() as sb:
        ids = _directory(sb, session_factory, cfg)
        maria = ids["maria.gonzalez@acme.example"]
        with session_factory() as s:
            set_rhythm(s, config=cfg, name="maple", actor="UADMIN", now=clock.now(), enabled=False)
            s.commit()

        async def scenario() -> None:
            async with bot(sb, session_factory, clock=clock, config=cfg) as b:
                assert b.driver is not None
                reply = await b.driver.slash_command("/maple", "", user=maria, channel="C1")
                assert reply.status == 200
                posts = await eventually(sb.state.response_posts)
                assert posts[0]["ephemeral"]
                assert "MAPLE updates are switched off" in json.dumps(posts[0])
                await asyncio.sleep(0.2)
                assert sb.state.open_views(maria) == []

        asyncio.run(scenario())
