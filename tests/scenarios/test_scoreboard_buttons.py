"""A rep clicks "Details" and "Why these targets?" on the DM the engine wrote and the sender
delivered to the sandbox: signed HTTP request → Bolt → views.open at once → views.update."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

from sqlalchemy.orm import Session, sessionmaker

from bot.app import BackgroundTasks, create_app
from bot.http import start_http
from bot.listeners.scoreboard import register_scoreboard_listeners
from bot.sandbox.blockkit import validate_view
from bot.sandbox.driver import BotDriver
from bot.slack_client import make_http_session, make_slack_client
from metrics.clock import TravellingClock
from rhythms.engine import RhythmEngine
from rhythms.registry import default_registry
from tests.bot.slack_env import SIGNING_SECRET, bot, eventually, sandbox, settings_for
from tests.support.rhythms import REPS, FakeScoreboards, make_config, seed_directory

UTC = dt.UTC


def test_buttons_on_the_delivered_dm_open_filled_modals(
    session_factory: sessionmaker[Session],
) -> None:
    cfg = make_config()
    seed_directory(session_factory, cfg)
    clock = TravellingClock(dt.datetime(2026, 11, 24, 23, 30, tzinfo=UTC))  # 17:30 Chicago
    source = FakeScoreboards()
    engine = RhythmEngine(
        session_factory=session_factory,
        config=cfg,
        clock=clock,
        registry=default_registry(source),
    )

    async def scenario() -> list[dict[str, object]]:
        with sandbox() as sb:
            for email, name, zone, slack in REPS:
                sb.state.add_user(slack, name=name, email=email, tz=zone)
            sb.state.add_user("UMARIA1", name="maria")
            sb.state.add_channel("#team-sdr")
            async with bot(sb, session_factory, clock=clock, http=False) as b:
                await asyncio.to_thread(engine.tick)
                await b.sender(session_factory, clock).drain()
            dm = sb.state.dm_messages("UDANA01")
            assert len(dm) == 1
            buttons = next(x for x in dm[0]["blocks"] if x["type"] == "actions")["elements"]
            session = make_http_session(timeout=10)
            settings = settings_for(sb)
            client = make_slack_client(settings, session=session)
            app = create_app(
                settings=settings, slack_client=client, session_factory=session_factory, clock=clock
            )
            tasks = BackgroundTasks()
            register_scoreboard_listeners(
                app,
                session_factory=session_factory,
                clock=clock,
                config=cfg,
                source=source,
                tasks=tasks,
            )
            server = await start_http(app, host="127.0.0.1", port=0)
            try:
                driver = BotDriver(
                    sb, bot_url=server.events_url, signing_secret=SIGNING_SECRET, session=session
                )
                for button in buttons:
                    reply = await driver.block_actions(
                        user="UDANA01",
                        actions=[{"action_id": button["action_id"], "value": button["value"]}],
                        channel=sb.state.dm_with("UDANA01").id,
                        message_ts=str(dm[0]["ts"]),
                    )
                    assert reply.status == 200
                await tasks.drain()

                def filled() -> list[dict[str, object]]:
                    views = sb.state.open_views("UDANA01")
                    titles = {json.dumps(v, ensure_ascii=False).count("Crunching") for v in views}
                    return views if len(views) == 2 and titles == {0} else []

                return await eventually(filled, within=10)
            finally:
                await server.stop()
                await session.close()

    views = asyncio.run(scenario())
    titles = sorted(str(v["title"]["text"]) for v in views)  # type: ignore[index]
    assert titles == ["Scoreboard details", "Why these targets?"]
    for v in views:
        view = {k: v[k] for k in ("type", "title", "close", "blocks") if k in v}
        assert validate_view(view) == []
    flat = json.dumps(views, ensure_ascii=False)
    assert "Dana Ruiz" in flat and "the SDR team's target" in flat
