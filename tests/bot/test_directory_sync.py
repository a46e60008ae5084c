"""Directory sync: users.list paging → people.slack_user_id / slack_timezone by email."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.directory_sync import _zone, sync_directory
from bot.ratelimit import RateLimiter
from bot.sandbox.users import generate_users, user_id_for
from bot.slack_calls import SlackCaller
from metrics.clock import SystemClock
from metrics.models import Person
from tests.bot.slack_env import bot, sandbox


def test_sync_maps_people_by_email_and_skips_deleted_users_and_bots(
    session_factory: sessionmaker[Session],
) -> None:
    emails = [f"person{i:05d}@bigco.example" for i in range(0, 500, 7)]
    with session_factory() as session, session.begin():
        for i, email in enumerate(emails):
            session.add(Person(email=email.upper() if i % 2 else email, name=email, role="rep"))
        session.add(Person(email="nobody@bigco.example", name="Nobody", role="rep"))

    async def scenario() -> object:
        with sandbox() as sb:
            generate_users(sb.state, 500, deleted_every=97, bot_every=211)
            async with bot(sb, session_factory, http=False) as b:
                caller = SlackCaller(RateLimiter(scale=0.01))
                report = await sync_directory(
                    b.client, session_factory, clock=SystemClock(), caller=caller
                )
            assert sb.count("users.list", ok=True) == 3  # 501 users, 200 a page
            assert sb.count("users.lookupByEmail") == 0
            return report

    report = asyncio.run(scenario())
    with session_factory() as session:
        people = {p.email.lower(): p for p in session.scalars(select(Person))}
    for i in range(0, 500, 7):
        person = people[f"person{i:05d}@bigco.example"]
        deleted, is_bot = i % 97 == 96, i % 211 == 210
        if deleted or is_bot:
            assert person.slack_user_id is None
        else:
            assert person.slack_user_id == user_id_for(person.email)
            assert person.slack_timezone and "/" in person.slack_timezone
    assert people["nobody@bigco.example"].slack_user_id is None
    assert "nobody@bigco.example" in report.unmatched_people  # type: ignore[attr-defined]
    assert report.skipped == 500 // 97 + 500 // 211 + 1  # type: ignore[attr-defined]


def test_unknown_slack_zones_fall_back_to_the_org_default() -> None:
    assert _zone("Europe/Berlin") == "Europe/Berlin"
    assert _zone("Mars/Olympus_Mons") is None
    assert _zone("../../etc/passwd") is None
    assert _zone("") is None
    assert _zone(None) is None
    assert _zone(42) is None
