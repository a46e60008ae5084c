"""How `/metric` answers over signed HTTP: in the ack's body when the answer is ready within
the budget, else an empty ack and the answer through the response_url (forced here by
holding the work until the ack is back); `public` always through the response_url."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import bot.listeners.commands as command_listeners
from bot.sandbox.users import seed_from_config
from metrics.clock import TravellingClock
from metrics.directory import apply_directory
from metrics.models import MetricDaily, Person, SyncRun
from rhythms.config import load_org_config
from rhythms.models import Interaction
from tests.bot.slack_env import bot, eventually, sandbox
from tests.conftest import EXAMPLE_CONFIG

NOW = dt.datetime(2026, 11, 25, 20, 0, tzinfo=dt.UTC)  # Wednesday 15:00 New York
CFG = load_org_config(EXAMPLE_CONFIG)


def _seed(factory: sessionmaker[Session], ids: dict[str, str]) -> str:
    """The directory with Slack ids and a few of Dana's calls; Dana's Slack id."""
    with factory() as s:
        apply_directory(s, CFG, today=NOW.date())
        for person in s.scalars(select(Person)):
            person.slack_user_id = ids[person.email]
        dana = s.scalars(select(Person).where(Person.email.startswith("dana"))).one()
        s.add(
            MetricDaily(person_id=dana.id, metric="calls", day=NOW.date(), value=41, team_key="sdr")
        )
        s.commit()
    return ids["dana.ruiz@acme.example"]


def _recorded(factory: sessionmaker[Session]) -> list[str]:
    with factory() as s:
        return list(s.scalars(select(Interaction.name).where(Interaction.kind == "command")))


def test_the_answer_rides_in_the_ack(session_factory: sessionmaker[Session]) -> None:
    with sandbox() as sb:
        dana = _seed(session_factory, seed_from_config(sb.state, CFG))

        async def scenario() -> None:
            async with bot(sb, session_factory, clock=TravellingClock(NOW), config=CFG) as b:
                assert b.driver is not None
                reply = await b.driver.slash_command("/metric", "calls", user=dana, channel="C1")
                body = reply.json()
                assert reply.status == 200 and body["response_type"] == "ephemeral"
                assert "Calls · Dana Ruiz · today" in body["text"] and "41" in str(body["blocks"])
                # the sandbox shows the ack's body as the reply: one post, the answer
                posts = sb.state.response_posts()
                assert [p["text"] for p in posts] == [body["text"]] and posts[0]["ephemeral"]
                typo = await b.driver.slash_command("/metric", "banana", user=dana, channel="C1")
                assert "I don't know a metric called `banana`" in typo.json()["text"]
                assert len(sb.state.response_posts()) == 2

        asyncio.run(scenario())
    assert _recorded(session_factory) == ["metric", "metric"]  # bad text is recorded too


def test_a_slow_answer_goes_to_the_response_url(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    real_answer = command_listeners.answer

    def held_answer(*args: Any, **kwargs: Any) -> Any:
        assert release.wait(10), "the test never released the answer"
        return real_answer(*args, **kwargs)

    monkeypatch.setattr(command_listeners, "answer", held_answer)
    monkeypatch.setattr(command_listeners, "ANSWER_BUDGET", 0.05)
    with sandbox() as sb:
        dana = _seed(session_factory, seed_from_config(sb.state, CFG))

        async def scenario() -> None:
            async with bot(sb, session_factory, clock=TravellingClock(NOW), config=CFG) as b:
                assert b.driver is not None
                reply = await b.driver.slash_command("/metric", "calls", user=dana, channel="C1")
                assert reply.status == 200 and reply.body == ""  # acked, nothing shown yet
                assert sb.state.response_posts() == []
                release.set()
                posts = await eventually(sb.state.response_posts, within=10)
                assert "Calls · Dana Ruiz · today" in posts[0]["text"] and posts[0]["ephemeral"]

        asyncio.run(scenario())
    assert _recorded(session_factory) == ["metric"]


def test_public_answers_go_to_the_channel_through_the_response_url(
    session_factory: sessionmaker[Session],
) -> None:
    with sandbox() as sb:
        dana = _seed(session_factory, seed_from_config(sb.state, CFG))

        async def scenario() -> None:
            async with bot(sb, session_factory, clock=TravellingClock(NOW), config=CFG) as b:
                assert b.driver is not None
                reply = await b.driver.slash_command(
                    "/metric", "calls public", user=dana, channel="C1"
                )
                assert reply.status == 200 and reply.body == ""
                posts = await eventually(sb.state.response_posts, within=10)
                assert "Calls · Dana Ruiz" in posts[0]["text"] and not posts[0]["ephemeral"]

        asyncio.run(scenario())


def test_the_sandbox_refuses_an_ack_body_slack_would_refuse() -> None:
    with sandbox() as sb:
        error = sb.command_reply(user="U1", channel="C1", body={"blocks": [{"type": "nope"}]})
        assert error == "invalid_blocks"
        assert "invalid_blocks" in sb.state.response_posts()[0]["text"]
        assert sb.command_reply(user="U1", channel="C1", body={"text": "hi"}) is None
        assert sb.state.response_posts()[1]["text"] == "hi"


def test_freshness_is_read_once_per_ttl(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(command_listeners, "FRESHNESS_TTL", 3600.0)
    with sandbox() as sb:
        dana = _seed(session_factory, seed_from_config(sb.state, CFG))
        _synced(session_factory, hours_ago=10)

        async def scenario() -> None:
            async with bot(sb, session_factory, clock=TravellingClock(NOW), config=CFG) as b:
                assert b.driver is not None

                async def shown() -> str:
                    assert b.driver is not None
                    reply = await b.driver.slash_command("/metric", "calls", user=dana, channel="C")
                    return str(reply.json()["blocks"])

                assert "Data may be stale" in await shown()
                _synced(session_factory, hours_ago=0)
                assert "Data may be stale" in await shown()  # the reading is kept for the TTL
                monkeypatch.setattr(command_listeners, "FRESHNESS_TTL", 0.0)
                assert "Data may be stale" not in await shown()

        asyncio.run(scenario())


def _synced(factory: sessionmaker[Session], *, hours_ago: float) -> None:
    at = NOW - dt.timedelta(hours=hours_ago)
    with factory() as s:
        s.add(SyncRun(source="hubspot", started_at=at, finished_at=at, status="ok"))
        s.commit()
