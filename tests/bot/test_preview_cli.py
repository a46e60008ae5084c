"""`drumbeat preview`: prints text and Block Kit for a rhythm, writes and sends nothing."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import main
from bot.sandbox.blockkit import validate_blocks
from metrics.directory import apply_directory
from rhythms.config import load_org_config
from rhythms.models import Delivery, RhythmRun
from tests.conftest import EXAMPLE_CONFIG


@pytest.fixture
def seeded(
    db_url: str, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> sessionmaker[Session]:
    with session_factory() as session:
        apply_directory(session, load_org_config(EXAMPLE_CONFIG), today=dt.date(2026, 1, 1))
        session.commit()
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", db_url)
    monkeypatch.setenv("DRUMBEAT_CONFIG", str(EXAMPLE_CONFIG))
    return session_factory


def test_preview_one_person_as_json(
    seeded: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["preview", "daily_scoreboard", "--person", "Dana.Ruiz@acme.example"]
    assert main([*args, "--at", "2026-11-24T17:30-06:00", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert len(items) == 1
    item = items[0]
    assert item["recipient"] == "<no Slack id: dana.ruiz@acme.example>"
    assert validate_blocks(item["payload"]["blocks"], "message") == []
    assert "Tue 24 Nov" in item["payload"]["blocks"][0]["text"]["text"]
    with seeded() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0
        assert session.scalar(select(func.count()).select_from(RhythmRun)) == 0


def test_preview_text_rendering_for_a_team(
    seeded: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["preview", "team_scoreboard", "--at", "2026-11-24T23:45:00"]) == 0
    out = capsys.readouterr().out
    assert "SDR scoreboard · Tue 24 Nov" in out and "#team-sdr" in out
    assert '"type": "header"' in out  # the Block Kit JSON follows the text


def test_preview_explains_bad_input(
    seeded: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["preview", "nope"]) == 2
    assert "no rhythm 'nope'" in capsys.readouterr().err
    assert main(["preview", "alerts"]) == 2  # alert rules run in the heartbeat, not as a spec
    assert "cannot compose yet" in capsys.readouterr().err
    assert main(["preview", "daily_scoreboard", "--person", "ghost@acme.example"]) == 2
    assert "no person with email" in capsys.readouterr().err
    assert main(["preview", "daily_scoreboard", "--at", "tuesday"]) == 2
    assert "not an ISO time" in capsys.readouterr().err
