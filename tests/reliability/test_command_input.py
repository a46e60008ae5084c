"""Junk through the signed HTTP endpoint: every slash command with odd, huge, unicode and
adversarial text, from every role, gets a clear answer — never the "something went wrong"
reply and never a logged exception. Malformed, oversized and unsigned bodies are refused
without hurting the process."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import random
import time
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.listeners.commands import OOPS
from bot.sandbox.driver import sign, signed_headers
from metrics.clock import TravellingClock
from rhythms.models import Interaction, RhythmOverride
from tests.bot.slack_env import SIGNING_SECRET, bot, eventually, sandbox
from tests.reliability.support import ROLE_USERS, roles_org
from tests.support.rhythms import seed_directory

NOW = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)
COMMANDS = ("/metric", "/scoreboard", "/drumbeat", "/velocity")
WORDS = (
    "calls",
    "meetings",
    "pipeline",
    "win rate",
    "this week",
    "last month",
    "yesterday",
    "vs",
    "for",
    "team",
    "sdr",
    "ae",
    "@dana",
    "<@UDANA01>",
    "<@UNOBODY|x>",
    "leo",
    "org",
    "public",
    "chart",
    "list",
    "help",
    "whoami",
    "rhythms",
    "alerts",
    "targets",
    "sync",
    "sync-status",
    "resync",
    "rhythm",
    "on",
    "off",
    "time",
    "daily_scoreboard",
    '"30 17 * * mon-fri"',
    '"99 99 * * *"',
    "'",
    '"',
    "\\",
    "--",
    "-1",
    "1e308",
    "NaN",
    "2026-02-30",
    "Q5",
    "week 53",
    "<!channel>",
    "*bold*",
    "`code`",
    "#team-sdr",
)
NASTY = (
    "",
    " ",
    "\t\n\r",
    "\x00\x01\x02",
    "\u202e\u200b\u200d\ufeff",
    "😀" * 300,
    "a" * 5000,
    "calls " * 400,
    "rhythm time daily_scoreboard '" + "*" * 200,
    "ｃａｌｌｓ ｔｈｉｓ ｗｅｅｋ",
    "İstanbul ß ǅ ﬁ",
    "%s %d {0} ${x} {{x}}",
    "'; DROP TABLE deliveries; --",
    "<script>alert(1)</script>",
    "rhythm on ../../etc/passwd",
    "calls for " + "x" * 1000,
)


def junk(rng: random.Random) -> str:
    parts = [rng.choice(WORDS) for _ in range(rng.randint(1, 6))]
    if rng.random() < 0.3:
        parts.insert(rng.randrange(len(parts) + 1), rng.choice(NASTY))
    if rng.random() < 0.2:
        parts.append("".join(chr(rng.randint(0x20, 0x2FFF)) for _ in range(rng.randint(1, 30))))
    return " ".join(parts)


@pytest.mark.parametrize("engine_name", ["sqlite"])
def test_junk_command_text_gets_clear_answers(
    session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    cfg = roles_org()
    seed_directory(session_factory, cfg)
    rng = random.Random(7)
    sent: list[tuple[str, str, str]] = []
    for command in COMMANDS:
        texts = list(NASTY) + [junk(rng) for _ in range(12)]
        for text in texts:
            sent.append((command, text, rng.choice(list(ROLE_USERS.values()))))

    async def scenario() -> list[dict[str, Any]]:
        with sandbox() as sb:
            for user in ROLE_USERS.values():
                sb.state.add_user(user, name=user.lower())
            clock = TravellingClock(NOW)
            async with bot(sb, session_factory, clock=clock, config=cfg) as b:
                assert b.driver is not None
                for command, text, user in sent:
                    reply = await b.driver.slash_command(command, text, user=user, channel="C1")
                    assert reply.status == 200, (command, text, reply)
                    assert reply.elapsed < 3.0
                await eventually(lambda: len(sb.state.response_posts()) == len(sent), within=60)
                return sb.state.response_posts()

    with caplog.at_level(logging.WARNING):
        posts = asyncio.run(scenario())
    assert all((p.get("text") or p.get("blocks")) for p in posts)
    oops = [p for p in posts if p.get("text") == OOPS]
    assert not oops, oops[:3]
    assert "command failed" not in caplog.text, caplog.text[-3000:]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    with session_factory() as session:
        # Non-admins changed nothing; an admin's bad cron was refused, not stored.
        overrides = session.scalars(select(RhythmOverride)).all()
        assert all(o.changed_by == ROLE_USERS["admin"] for o in overrides)
        assert all("99" not in (o.schedule or "") for o in overrides)
        assert session.scalar(select(func.count()).select_from(Interaction)) >= len(sent) // 2


@pytest.mark.parametrize("engine_name", ["sqlite"])
def test_malformed_oversized_forged_and_stale_requests_are_refused(
    session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    cfg = roles_org()
    seed_directory(session_factory, cfg)

    async def scenario() -> None:
        with sandbox() as sb:
            async with bot(sb, session_factory, config=cfg) as b:
                driver = b.driver
                assert driver is not None
                form = "application/x-www-form-urlencoded"
                # Unparseable bodies: refused before Bolt (Bolt would parse them before it
                # checks the signature, and answer 500 with a traceback).
                for body in ("payload=%7Bnot+json", "payload=" + "%5B" * 100_000):
                    for secret in (None, "forged"):
                        reply = await driver.post(body, form, secret=secret)
                        assert reply.status == 400, (body[:60], reply)
                # Signed, parseable, but not what Slack sends: Bolt's own error handling
                # answers (a 4xx, or 500 for a shape its middleware trips on); the process
                # stays up and nothing is written.
                bodies = [
                    ('payload={"type":"block_actions"}', form),
                    ('payload={"type":"view_submission","view":null}', form),
                    ('payload={"type":"block_actions","actions":[{}],"user":{}}', form),
                    ("\x00\xff garbage", form),
                    (
                        '{"type":"event_callback","event":{"type":"app_home_opened"}}',
                        "application/json",
                    ),
                    ('{"type":"event_callback"', "application/json"),
                    ("[]", "application/json"),
                ]
                for body, content_type in bodies:
                    reply = await driver.post(body, content_type)
                    assert reply.status in (200, 400, 401, 404, 500), (body[:60], reply)
                huge = "command=%2Fmetric&text=" + "a" * (3 * 1024 * 1024)
                headers = signed_headers(SIGNING_SECRET, huge, form)
                async with b.session.post(
                    driver.bot_url, data=io.BytesIO(huge.encode()), headers=headers
                ) as resp:
                    assert resp.status == 413  # aiohttp's 1 MiB cap, before any parsing
                forged = await driver.slash_command(
                    "/metric", "calls", user="UDANA01", channel="C1", secret="wrong"
                )
                stale = await driver.slash_command(
                    "/metric",
                    "calls",
                    user="UDANA01",
                    channel="C1",
                    timestamp=int(time.time()) - 600,
                )
                future = await driver.slash_command(
                    "/metric",
                    "calls",
                    user="UDANA01",
                    channel="C1",
                    timestamp=int(time.time()) + 600,
                )
                assert forged.status == stale.status == future.status == 401
                # No signature headers at all.
                async with b.session.post(driver.bot_url, data=b"command=%2Fmetric") as resp:
                    assert resp.status == 401
                # A body signed for one text but carrying another (replayed signature).
                stamp = int(time.time())
                headers = {
                    "Content-Type": form,
                    "X-Slack-Request-Timestamp": str(stamp),
                    "X-Slack-Signature": sign(SIGNING_SECRET, stamp, "a=1"),
                }
                async with b.session.post(driver.bot_url, data=b"a=2", headers=headers) as resp:
                    assert resp.status == 401
                # Still healthy: a real command is answered.
                ok = await driver.slash_command("/drumbeat", "help", user="UDANA01", channel="C1")
                assert ok.status == 200
                await eventually(lambda: sb.state.response_posts())
            assert sb.state.ephemerals() or sb.state.response_posts()

    asyncio.run(scenario())
    with session_factory() as session:
        names = session.scalars(select(Interaction.name)).all()
    assert list(names) == ["drumbeat help"]  # nothing refused left a trace
