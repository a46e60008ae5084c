"""`/metric … chart` over signed HTTP into Bolt, against the sandbox: a count's chart is
uploaded (through the outbox and the sender) for a one-day question too; a ratio gets no
upload and a reply that says why (it used to get neither a chart nor a word)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import io

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox.users import seed_from_config
from metrics.clock import TravellingClock
from metrics.directory import apply_directory
from metrics.models import MetricDaily, Person
from rhythms.config import load_org_config
from tests.bot.slack_env import bot, eventually, sandbox
from tests.conftest import EXAMPLE_CONFIG

NOW = dt.datetime(2026, 11, 25, 20, 0, tzinfo=dt.UTC)  # Wednesday 15:00 New York
CFG = load_org_config(EXAMPLE_CONFIG)


def _seed(factory: sessionmaker[Session], ids: dict[str, str]) -> str:
    """The directory with Slack ids and Dana's calls of the last days; Maria's Slack id."""
    with factory() as s:
        apply_directory(s, CFG, today=NOW.date())
        for person in s.scalars(select(Person)):
            person.slack_user_id = ids[person.email]
        dana = s.scalars(select(Person).where(Person.email.startswith("dana"))).one()
        for back in range(6):
            day = NOW.date() - dt.timedelta(days=back)
            s.add(
                MetricDaily(
                    person_id=dana.id, metric="calls", day=day, value=30 + back, team_key="sdr"
                )
            )
        s.commit()
    return ids["maria.gonzalez@acme.example"]


def test_charts_and_the_reason_for_no_chart(session_factory: sessionmaker[Session]) -> None:
    with sandbox() as sb:
        maria = _seed(session_factory, seed_from_config(sb.state, CFG))
        clock = TravellingClock(NOW)

        async def scenario() -> None:
            async with bot(sb, session_factory, clock=clock, config=CFG) as b:
                assert b.driver is not None
                await b.driver.slash_command(
                    "/metric", "calls sdr today chart", user=maria, channel="C1"
                )
                posts = await eventually(sb.state.response_posts, within=10)
                assert posts[0]["text"].startswith("Calls · SDR · today: 30")
                assert "No chart" not in str(posts[0]["blocks"])
                await b.sender(session_factory, clock).drain()
                files = await eventually(sb.state.uploaded_files, within=10)
                assert [f["title"] for f in files] == [posts[0]["text"]]
                with Image.open(io.BytesIO(_content(files[0]))) as image:
                    assert image.size == (600, 300)

                clock.advance(dt.timedelta(seconds=1))
                await b.driver.slash_command(
                    "/metric", "win_rate sdr last 30d chart", user=maria, channel="C1"
                )
                posts = await eventually(lambda: sb.state.response_posts()[1:], within=10)
                reason = str(posts[0]["blocks"])
                assert "No chart: win rate is a ratio" in reason and "`deals_won`" in reason
                await b.sender(session_factory, clock).drain()
                assert len(sb.state.uploaded_files()) == 1  # no chart for the ratio

        asyncio.run(scenario())


def _content(file: dict[str, object]) -> bytes:
    content = file.get("content")
    if isinstance(content, bytes):
        return content
    return base64.b64decode(str(content))
