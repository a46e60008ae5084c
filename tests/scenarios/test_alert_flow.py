"""Alerts over the sandbox: fire once (grouped), Acknowledge updates the message in place,
resolution rewrites the same message (no new ping)."""

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
from metrics.models import MetricDaily, Person
from rhythms.alerts import evaluate_rules
from rhythms.config import load_org_config
from tests.bot.slack_env import bot, sandbox
from tests.conftest import EXAMPLE_CONFIG

AT = dt.datetime(2026, 11, 23, 18, 5, tzinfo=dt.UTC)  # 13:05 NY, 12:05 Chicago, 11:05 Denver


def _button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return {**element, "block_id": block.get("block_id", "b")}
    raise AssertionError(f"no {action_id} button")


def test_alert_fire_ack_resolve(session_factory: sessionmaker[Session]) -> None:
    cfg = load_org_config(EXAMPLE_CONFIG)
    cfg = cfg.model_copy(
        update={"alerts": tuple(a for a in cfg.alerts if a.name == "sdr-no-calls-by-11")}
    )
    clock = TravellingClock(AT)
    with sandbox() as sb:
        ids = seed_from_config(sb.state, cfg)
        with session_factory() as s:
            apply_directory(s, cfg, today=AT.date())
            people = {}
            for person in s.scalars(select(Person)):
                person.slack_user_id = ids[person.email]
                people[person.email.split(".")[0]] = person
            s.add(
                MetricDaily(
                    person_id=people["dana"].id,
                    metric="calls",
                    day=AT.date(),
                    value=9,
                    team_key="sdr",
                )
            )
            s.commit()
            leo_id = people["leo"].id
        maria = ids["maria.gonzalez@acme.example"]

        def evaluate() -> None:
            with session_factory() as s:
                evaluate_rules(s, config=cfg, now=clock.now())
                s.commit()

        async def scenario() -> None:
            async with bot(sb, session_factory, clock=clock, config=cfg) as b:
                assert b.driver is not None
                sender = b.sender(session_factory, clock)
                evaluate()
                clock.advance(dt.timedelta(minutes=30))
                evaluate()  # still firing: no second message
                await sender.drain()
                messages = sb.state.dm_messages(maria)
                assert len(messages) == 1
                alert = messages[0]
                assert alert["text"].startswith("⚠️ 3 · No calls by 11:00")
                ack = _button(alert, "alert_ack")
                reply = await b.driver.block_actions(
                    user=maria,
                    actions=[ack],
                    channel=sb.state.dm_with(maria).id,
                    message_ts=alert["ts"],
                )
                assert reply.status == 200
                await asyncio.sleep(0)  # let the after-ack task start
                for _ in range(200):
                    await sender.drain()
                    if "acknowledged by" in json.dumps(sb.state.dm_messages(maria)):
                        break
                    await asyncio.sleep(0.01)
                updated = sb.state.dm_messages(maria)
                assert len(updated) == 1 and updated[0]["ts"] == alert["ts"]
                assert f"acknowledged by <@{maria}>" in json.dumps(updated[0])
                # Open scoreboard: the team board of the SDRs in the alert, to Maria only
                board = _button(alert, "alert_open_scoreboard")
                reply = await b.driver.block_actions(
                    user=maria,
                    actions=[board],
                    channel=sb.state.dm_with(maria).id,
                    message_ts=alert["ts"],
                )
                assert reply.status == 200
                boards: list[dict[str, Any]] = []
                for _ in range(200):
                    boards = [
                        e
                        for e in sb.state.ephemerals(maria)
                        if str(e.get("text", "")).startswith("SDR scoreboard")
                    ]
                    if boards:
                        break
                    await asyncio.sleep(0.01)
                assert len(boards) == 1
                assert "Leo Martin" in json.dumps(boards[0]["blocks"])  # her team, by name
                assert "Use `/scoreboard`" not in json.dumps(sb.state.ephemerals(maria))
                with session_factory() as s:
                    s.merge(
                        MetricDaily(
                            person_id=leo_id, metric="calls", day=AT.date(), value=4, team_key="sdr"
                        )
                    )
                    s.commit()
                clock.advance(dt.timedelta(minutes=30))
                evaluate()
                await sender.drain()
                final = sb.state.dm_messages(maria)
                assert len(final) == 1  # resolution rewrote the message: no new ping
                assert "✅ ~*Leo Martin*" in json.dumps(final[0]["blocks"], ensure_ascii=False)

        asyncio.run(scenario())
