"""`drumbeat demo`: a whole revenue org on this machine, in a few minutes.

Seeds a demo org (SQLite, the demo CRM, with progress), starts the sandbox Slack, the bot
(every listener, sender, heartbeat) and the sandbox web page. The clock is the system clock
plus an offset the page's time control moves forward ("next scoreboard", "Friday 14:00",
"next month"...); each jump pulls the CRM up to the new time, refreshes rollups, runs one
heartbeat and drains the outbox, so the visitor sees what Drumbeat would have sent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import SecretStr
from sqlalchemy import select

from bot import db
from bot.directory_sync import sync_directory
from bot.runtime import Runtime, RuntimeOptions, start_runtime
from bot.sandbox.driver import BotDriver
from bot.sandbox.limits import RateLimits
from bot.sandbox.server import SlackSandbox
from bot.sandbox.users import seed_from_config
from bot.sandbox.webui import WebUI
from bot.settings import Settings
from metrics.calendar import WorkCalendar
from metrics.clock import OffsetClock
from metrics.crm.demo import DemoConnector
from metrics.crm.demo_org import DemoOrg, build_org, org_toml
from metrics.crm.engine import Progress
from metrics.models import Person
from metrics.pipeline import PipelineResult, sync_and_roll_up
from rhythms.config import OrgConfig, parse_org_config

log = logging.getLogger(__name__)
JUMPS = ("scoreboard", "maple", "digest", "alerts", "month", "hour", "day")


@dataclass
class DemoOptions:
    reps: int = 24
    seed: int = 7
    port: int = 8080
    host: str = "127.0.0.1"
    database_url: str = "sqlite:///./drumbeat-demo.db"
    config_path: Path = Path("./drumbeat-demo.toml")
    months: int = 6


class DemoClock:
    """The page's time control: jumps, then catches the world up to the new time."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo

    def zone_of(self, user: str | None) -> str:
        return self.demo.zones.get(user or "", self.demo.config.org.timezone)

    def describe(self, user: str | None) -> dict[str, Any]:
        zone = self.zone_of(user)
        local = self.demo.clock.now().astimezone(ZoneInfo(zone))
        return {
            "iso": local.isoformat(),
            "zone": zone,
            "text": f"{local:%a %b %-d, %H:%M} · {zone}",
        }

    def target(self, kind: str, user: str | None) -> dt.datetime:
        now = self.demo.clock.now()
        zone = ZoneInfo(self.zone_of(user))
        org_zone = ZoneInfo(self.demo.config.org.timezone)
        work = WorkCalendar(self.demo.config.calendar)
        local = now.astimezone(zone)
        if kind == "hour":
            return now + dt.timedelta(hours=1)
        if kind == "day":
            return now + dt.timedelta(days=1)
        if kind in ("scoreboard", "alerts"):
            at = dt.time(17, 46) if kind == "scoreboard" else dt.time(11, 5)
            return _next_working(work, local, at).astimezone(dt.UTC)
        if kind == "maple":
            return _next_weekday(local, 4, dt.time(14, 1)).astimezone(dt.UTC)
        if kind == "digest":
            return _next_weekday(now.astimezone(org_zone), 0, dt.time(12, 1)).astimezone(dt.UTC)
        if kind == "month":
            first = (local.date().replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            while not work.is_working_day(first):
                first += dt.timedelta(days=1)
            return dt.datetime.combine(first, dt.time(10, 1), org_zone).astimezone(dt.UTC)
        raise ValueError(f"unknown jump {kind!r}: use one of {', '.join(JUMPS)}")

    async def jump(self, kind: str, user: str | None) -> str:
        target = self.target(kind, user)
        self.demo.clock.jump_to(target)
        await asyncio.to_thread(self.demo.pull)
        await self.demo.runtime.beat()
        await self.demo.drain()
        return f"Now {self.describe(user)['text']}: ran what was due."


def _next_working(work: WorkCalendar, local: dt.datetime, at: dt.time) -> dt.datetime:
    day = local.date()
    for _ in range(30):
        candidate = dt.datetime.combine(day, at, local.tzinfo)
        if work.is_working_day(day) and candidate > local:
            return candidate
        day += dt.timedelta(days=1)
    raise ValueError("no working day in the next 30 days: check [calendar]")


def _next_weekday(local: dt.datetime, weekday: int, at: dt.time) -> dt.datetime:
    days = (weekday - local.weekday()) % 7
    candidate = dt.datetime.combine(local.date() + dt.timedelta(days=days), at, local.tzinfo)
    return candidate if candidate > local else candidate + dt.timedelta(days=7)


class Demo:
    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.clock = OffsetClock()
        self.org: DemoOrg = build_org(options.reps, seed=options.seed)
        text = org_toml(self.org)
        self.config: OrgConfig = parse_org_config(tomllib.loads(text), "demo org")
        self.config_text = text
        self.settings = Settings(
            database_url=options.database_url,
            config_path=options.config_path,
        )
        self.sandbox = SlackSandbox(
            clock=lambda: self.clock.now().timestamp(),
            token=f"xoxb-demo-{secrets.token_hex(8)}",
            limits=RateLimits(time_scale=0.05, retry_after=0.2),
        )
        self.zones: dict[str, str] = {}
        self.runtime: Runtime
        self.webui: WebUI
        self._factory: Any = None

    # -- seeding ---------------------------------------------------------------------------
    def seed(self, progress: Progress | None = None) -> PipelineResult:
        """Write the org config, migrate, pull the demo CRM and roll up (synchronous)."""
        self.options.config_path.write_text(self.config_text, encoding="utf-8")
        db.upgrade(self.options.database_url)
        return self.pull(progress, months=self.options.months)

    def pull(self, progress: Progress | None = None, months: int | None = None) -> PipelineResult:
        from metrics.store import make_engine, make_session_factory

        engine = make_engine(self.options.database_url)
        try:
            connector = DemoConnector(
                self.org, end=self.clock.now(), months=months or self.options.months
            )
            return sync_and_roll_up(
                connector,
                session_factory=make_session_factory(engine),
                config=self.config,
                clock=self.clock,
                progress=progress,
            )
        finally:
            engine.dispose()

    # -- running ---------------------------------------------------------------------------
    async def start(self) -> str:
        await self.sandbox.start()
        ids = seed_from_config(self.sandbox.state, self.config)
        settings = self.settings.model_copy(
            update={
                "slack_api_url": self.sandbox.api_url,
                "slack_bot_token": SecretStr(self.sandbox.token),
                "slack_signing_secret": SecretStr(secrets.token_hex(16)),
                "slack_app_token": None,
            }
        )
        options = RuntimeOptions(
            host="127.0.0.1", port=0, pace_scale=0.05, replica="demo", directory=False
        )
        self.runtime = await start_runtime(
            settings, self.config, clock=self.clock, options=options, sync=self.pull
        )
        await sync_directory(self.runtime.client, self.runtime.factory, clock=self.clock)
        people = []
        with self.runtime.factory() as session:
            for person in session.scalars(
                select(Person).where(Person.active.is_(True)).order_by(Person.role, Person.name)
            ):
                if person.slack_user_id:
                    self.zones[person.slack_user_id] = (
                        person.timezone_override
                        or person.slack_timezone
                        or self.config.org.timezone
                    )
                    people.append(
                        {
                            "id": person.slack_user_id,
                            "name": person.name,
                            "role": person.role,
                            "team": person.team_key or "",
                        }
                    )
        assert ids, "the demo org has people"
        secret = settings.slack_signing_secret
        driver = BotDriver(
            self.sandbox,
            bot_url=self.runtime.server.events_url,
            signing_secret=secret.get_secret_value() if secret else "",
            session=self.runtime.http_session,
        )
        self.webui = WebUI(
            self.sandbox,
            driver,
            people=_ordered(people),
            clock=DemoClock(self),
            after_action=self.drain,
        )
        return await self.webui.start(self.options.host, self.options.port)

    async def drain(self) -> None:
        sender = self.runtime.sender
        if sender is None:
            return
        for _ in range(20):  # a drain may enqueue follow-ups (admin notices, threads)
            if await sender.drain() == 0:
                break

    async def stop(self) -> None:
        await self.webui.stop()
        await self.runtime.stop()
        await self.sandbox.stop()


def _ordered(people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rank = {"rep": 0, "manager": 1, "exec": 2, "admin": 3}
    return sorted(people, key=lambda p: (rank.get(p["role"], 9), p["team"], p["name"]))
