"""The monthly review over the sandbox, from demo CRM data: figures equal the metrics
engine's, charts and the PDF pack arrive in the review's thread through the two-step upload,
and `drumbeat export review` writes the same pack."""

from __future__ import annotations

import asyncio
import datetime as dt
import tomllib
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox.users import seed_from_config
from metrics.clock import TravellingClock
from metrics.crm.demo import DemoConnector
from metrics.crm.demo_org import build_org, org_toml
from metrics.lookup import Scope, metric_value
from metrics.models import Person
from metrics.pipeline import sync_and_roll_up
from rhythms.config import parse_org_config
from rhythms.engine import RhythmEngine
from tests.bot.slack_env import bot, sandbox

DEC_1 = dt.datetime(2026, 12, 1, 14, 1, tzinfo=dt.UTC)  # Tue 09:01 New York


def test_review_in_the_channel_with_charts_and_pack(
    session_factory: sessionmaker[Session],
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    org = build_org(6, seed=5)
    toml = org_toml(org)
    cfg = parse_org_config(tomllib.loads(toml))
    cfg = cfg.model_copy(
        update={"rhythms": {"monthly_review": cfg.rhythms["monthly_review"]}, "alerts": ()}
    )
    clock = TravellingClock(DEC_1)
    sync_and_roll_up(
        DemoConnector(org, end=DEC_1, months=2),
        session_factory=session_factory,
        config=cfg,
        clock=clock,
    )
    with sandbox() as sb:
        ids = seed_from_config(sb.state, cfg)
        with session_factory() as s:
            for person in s.scalars(select(Person)):
                person.slack_user_id = ids.get(person.email)
            s.commit()
        engine = RhythmEngine(session_factory=session_factory, config=cfg, clock=clock)
        report = engine.tick()
        assert [o.status for o in report.outcomes] == ["done"]

        async def scenario() -> None:
            async with bot(sb, session_factory, clock=clock, http=False) as b:
                sender = b.sender(session_factory, clock)
                for _ in range(5):
                    if await sender.drain() == 0:
                        break

        asyncio.run(scenario())
        channel = cfg.rhythms["monthly_review"].channel or "#sales-leaders"
        messages = sb.state.messages(channel)
        review = next(m for m in messages if "Monthly business review" in str(m.get("blocks")))
        with session_factory() as s:
            booked = metric_value(
                s,
                config=cfg,
                metric="bookings",
                scope=Scope.org(),
                start=dt.date(2026, 11, 1),
                end=dt.date(2026, 11, 30),
            ).value
        assert booked and review["text"].startswith("Monthly review November 2026:")
        from rhythms.blocks import fmt_number

        assert fmt_number(booked, "currency") in review["text"]
        files = sb.state.uploaded_files()
        names = sorted(f["name"] for f in files)
        assert any(n.startswith("drumbeat-pack-2026-11") and n.endswith(".pdf") for n in names)
        assert sum(n.startswith("review-2026-11") for n in names) >= 2
        threaded = [m for m in messages if m.get("thread_ts") == review["ts"] and m.get("files")]
        assert len(threaded) == len(files)  # every upload landed in the review's thread
        pack = next(f for f in files if f["name"].endswith(".pdf"))

    from bot.cli import main

    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", db_url)
    config_file = tmp_path / "drumbeat.toml"
    config_file.write_text(toml)
    monkeypatch.setenv("DRUMBEAT_CONFIG", str(config_file))
    out = tmp_path / "pack.pdf"
    assert main(["export", "review", "--month", "2026-11", "-o", str(out)]) == 0
    assert out.read_bytes() == pack["content"]
    assert main(["export", "review", "--month", "November"]) == 2
