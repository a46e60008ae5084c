"""The game-plan listeners over signed HTTP against the sandbox: opening the modal from the
review's button and sharing a plan are counted as uses of the game-plan rhythm, under the
name it is configured with (what `/drumbeat rhythms` shows)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox.users import seed_from_config
from metrics.clock import TravellingClock
from metrics.directory import apply_directory
from metrics.models import Person
from rhythms.config import OrgConfig, load_org_config
from rhythms.game_plan import CALLBACK_ID, OPEN_ACTION
from rhythms.maple import get_reply
from rhythms.models import Interaction
from tests.bot.slack_env import bot, eventually, sandbox
from tests.conftest import EXAMPLE_CONFIG

DEC_1 = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)  # 10:00 New York, review day


def _config() -> OrgConfig:
    cfg = load_org_config(EXAMPLE_CONFIG)
    plan = cfg.rhythms["game_plan"].model_copy(update={"kind": "game_plan"})
    return cfg.model_copy(update={"rhythms": {"leaders_plan": plan}, "alerts": ()})


def _text(value: str) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": value}}


def test_opening_and_sharing_a_plan_count_as_uses_of_the_configured_rhythm(
    session_factory: sessionmaker[Session],
) -> None:
    cfg = _config()
    clock = TravellingClock(DEC_1)
    with sandbox() as sb:
        ids = seed_from_config(sb.state, cfg)
        with session_factory() as s:
            apply_directory(s, cfg, today=DEC_1.date())
            for person in s.scalars(select(Person)):
                person.slack_user_id = ids[person.email]
            s.commit()
        maria = ids["maria.gonzalez@acme.example"]

        async def scenario() -> None:
            async with bot(sb, session_factory, clock=clock, config=cfg) as b:
                assert b.driver is not None
                opened = await b.driver.block_actions(
                    user=maria,
                    actions=[{"action_id": OPEN_ACTION, "type": "button", "value": "2026-12"}],
                    channel="C1",
                    message_ts="1.0",
                )
                assert opened.status == 200
                views = await eventually(lambda: sb.state.open_views(maria))
                view = views[0]
                assert view["callback_id"] == CALLBACK_ID
                values = {"resource": _text("Two SDRs"), "priorities": _text("- Pipeline")}
                shared = await b.driver.view_submission(user=maria, view=view, values=values)
                assert (shared.status, shared.body) == (200, "")

        asyncio.run(scenario())
    with session_factory() as s:
        used = [(i.rhythm, i.kind, i.name) for i in s.scalars(select(Interaction))]
        person = s.scalars(select(Person).where(Person.slack_user_id == maria)).one()
        plan = get_reply(s, rhythm="game_plan", period_key="2026-12", person_id=person.id)
    assert ("leaders_plan", "action", OPEN_ACTION) in used
    assert ("leaders_plan", "view", CALLBACK_ID) in used
    assert plan is not None and plan.answers["resource"] == "Two SDRs"
