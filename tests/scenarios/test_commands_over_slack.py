"""Slash commands over the sandbox: signed requests to the bot's endpoint, acked at once,
answered through response_url — happy paths, period syntax, typos, permissions, unknown
people, empty and stale data."""

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
from metrics.models import MetricDaily, Person, SyncRun
from rhythms.config import load_org_config
from tests.bot.slack_env import bot, eventually, sandbox
from tests.conftest import EXAMPLE_CONFIG

NOW = dt.datetime(2026, 11, 25, 20, 0, tzinfo=dt.UTC)  # Wednesday 15:00 New York

CASES: list[tuple[str, str, str, str]] = [
    # (who, command, text, expected fragment of the answer)
    ("dana", "/metric", "calls", "Calls · Dana Ruiz · today"),
    ("dana", "/metric", "calls yesterday", "Calls · Dana Ruiz · yesterday"),
    ("dana", "/metric", "calls this week vs last period", "previous period"),
    ("dana", "/metric", "calls last week", "Calls · Dana Ruiz · last week"),
    ("dana", "/metric", "calls this month", "this month"),
    ("dana", "/metric", "calls last 30d", "last 30 days"),
    ("dana", "/metric", "calls 2026-11-23..2026-11-24", "2026-11-23..2026-11-24"),
    ("dana", "/metric", "meetings sdr this week", "Meetings booked · SDR · this week"),
    ("dana", "/metric", "cals", "Calls · Dana Ruiz"),  # a typo still finds calls
    ("dana", "/metric", "banana", "I don't know a metric called `banana`"),
    ("dana", "/metric", "calls @chloe", "You can't see Chloe Wu's numbers"),
    ("dana", "/metric", "calls ae", "other teams' are for their managers"),
    ("dana", "/metric", "calls @nobody", "can't find anyone called `@nobody`"),
    ("dana", "/metric", "calls fortnight", "unknown period"),
    ("dana", "/metric", "list", "win_rate"),
    ("olivia", "/metric", "win_rate org this month", "Win rate · Acme Cloud · this month"),
    ("dana", "/scoreboard", "", "Your scoreboard"),
    ("maria", "/scoreboard", "", "📋 SDR scoreboard"),  # a manager's own: her team's board
    ("maria", "/scoreboard", "@dana", "Dana Ruiz's scoreboard"),
    ("olivia", "/scoreboard", "", "📋 Acme Cloud scoreboard"),  # the exec's: the org's
    ("maria", "/scoreboard", "sdr", "SDR"),
    ("dana", "/scoreboard", "cs", "other teams' are for their managers"),
    ("dana", "/drumbeat", "whoami", "Dana Ruiz"),
    ("dana", "/drumbeat", "rhythms", "daily_scoreboard"),
    ("dana", "/drumbeat", "targets", "*Calls*: daily 60"),
    ("dana", "/drumbeat", "rhythm off maple", "Only admins"),
    ("sam", "/drumbeat", "rhythm off maple", "is now *off*"),
    ("dana", "/drumbeat", "sync-status", "stale"),
    ("olivia", "/velocity", "", "velocity"),
    ("olivia", "/velocity", "#team-sdr", "*SDR*"),
    ("dana", "/metric", "calls 0001-01-01", "0001-01-01 is too early"),
    ("dana", "/metric", "calls sdr 2026-01-01..2999-12-31", "a period must be 1 to 3660 days"),
    ("dana", "/metric", "calls this week vs last week", "Calls · Dana Ruiz · this week"),
    ("dana", "/metric", "meetings booked sdr this week", "Meetings booked · SDR · this week"),
    ("dana", "/metric", "calls <#C0SDR01|>", "the channel's name with # or the team's name"),
    ("stranger", "/metric", "calls", "don't know you yet"),
]


def _answer_text(post: dict[str, Any]) -> str:
    return post.get("text", "") + json.dumps(post.get("blocks") or [], ensure_ascii=False)


def test_commands_answer_over_signed_http(session_factory: sessionmaker[Session]) -> None:
    cfg = load_org_config(EXAMPLE_CONFIG)
    clock = TravellingClock(NOW)
    with sandbox() as sb:
        ids = seed_from_config(sb.state, cfg)
        ids["stranger@elsewhere.example"] = "USTRANGER1"
        with session_factory() as s:
            apply_directory(s, cfg, today=NOW.date())
            for person in s.scalars(select(Person)):
                person.slack_user_id = ids[person.email]
                if person.email.startswith("dana"):
                    for back, value in enumerate((30, 55, 61)):
                        s.add(
                            MetricDaily(
                                person_id=person.id,
                                metric="calls",
                                day=NOW.date() - dt.timedelta(days=back),
                                value=value,
                                team_key="sdr",
                            )
                        )
            s.add(
                SyncRun(
                    source="hubspot",
                    started_at=NOW - dt.timedelta(hours=10),
                    finished_at=NOW - dt.timedelta(hours=10),
                    status="ok",
                )
            )
            s.commit()
        user = {email.split(".")[0].split("@")[0]: uid for email, uid in ids.items()}

        async def scenario() -> None:
            async with bot(sb, session_factory, clock=clock, config=cfg) as b:
                assert b.driver is not None
                for who, command, text, expected in CASES:
                    before = len(sb.state.response_posts())
                    reply = await b.driver.slash_command(
                        command, text, user=user[who], channel="C0GENERAL"
                    )
                    assert reply.status == 200 and reply.elapsed < 3, (command, text)
                    posts = await eventually(
                        lambda before=before: sb.state.response_posts()[before:], within=10
                    )
                    answer = _answer_text(posts[0])
                    assert expected in answer, (who, command, text, answer[:400])
                    assert posts[0]["ephemeral"], (command, text)  # ephemeral by default
                # a refused lookup never leaks the value
                refused = [p for p in sb.state.response_posts() if "can't see" in p["text"]]
                assert refused and all("55" not in _answer_text(p) for p in refused)

        asyncio.run(scenario())


def test_empty_data_says_no_activity_synced(session_factory: sessionmaker[Session]) -> None:
    cfg = load_org_config(EXAMPLE_CONFIG)
    with sandbox() as sb:
        ids = seed_from_config(sb.state, cfg)
        with session_factory() as s:
            apply_directory(s, cfg, today=NOW.date())
            for person in s.scalars(select(Person)):
                person.slack_user_id = ids[person.email]
            s.commit()

        async def scenario() -> None:
            async with bot(sb, session_factory, clock=TravellingClock(NOW), config=cfg) as b:
                assert b.driver is not None
                await b.driver.slash_command(
                    "/metric", "calls", user=ids["dana.ruiz@acme.example"], channel="C1"
                )
                posts = await eventually(sb.state.response_posts, within=10)
                assert "No activity synced yet" in _answer_text(posts[0])

        asyncio.run(scenario())
