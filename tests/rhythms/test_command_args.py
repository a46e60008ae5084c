"""`/drumbeat` words: a schedule typed without quotes after `rhythm time NAME` is one word,
and the switchboard retimes the rhythm with it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.directory import apply_directory
from metrics.models import Person
from rhythms.command_args import command_words
from rhythms.config import load_org_config
from rhythms.models import RhythmOverride
from rhythms.switchboard_commands import rhythm_admin
from tests.conftest import EXAMPLE_CONFIG

CFG = load_org_config(EXAMPLE_CONFIG)
NOW = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)  # Monday 10:00 New York


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "rhythm time daily_scoreboard 30 18 * * mon-fri",
            ["rhythm", "time", "daily_scoreboard", "30 18 * * mon-fri"],
        ),
        (
            "Rhythm TIME maple */15 9-17 1,15 * 1-5",
            ["Rhythm", "TIME", "maple", "*/15 9-17 1,15 * 1-5"],
        ),
        (  # quoted, as documented: unchanged
            'rhythm time daily_scoreboard "30 18 * * mon-fri"',
            ["rhythm", "time", "daily_scoreboard", "30 18 * * mon-fri"],
        ),
        (  # quotes as phones and macOS type them
            "rhythm time daily_scoreboard “30 18 * * mon-fri”",
            ["rhythm", "time", "daily_scoreboard", "30 18 * * mon-fri"],
        ),
        # not five cron fields after a name: left for the switchboard to explain
        (
            "rhythm time daily_scoreboard sdr 30 18 * * mon-fri",
            ["rhythm", "time", "daily_scoreboard", "sdr", "30", "18", "*", "*", "mon-fri"],
        ),
        ("rhythm time maple 30 18 * *", ["rhythm", "time", "maple", "30", "18", "*", "*"]),
        (
            "rhythm time maple 30 18 * * mon;rm",
            ["rhythm", "time", "maple", "30", "18", "*", "*", "mon;rm"],
        ),
        ("rhythm off maple sdr", ["rhythm", "off", "maple", "sdr"]),
        ("whoami", ["whoami"]),
        ("", []),
    ],
)
def test_command_words(text: str, words: list[str]) -> None:
    assert command_words(text) == words


def test_an_unclosed_quote_is_still_an_error() -> None:
    with pytest.raises(ValueError, match="quotation"):
        command_words('rhythm time maple "30 17 * * mon-fri')


def test_the_switchboard_retimes_with_an_unquoted_schedule(session: Session) -> None:
    apply_directory(session, CFG, today=NOW.date())
    sam = session.scalars(select(Person).where(Person.email == "sam.okafor@acme.example")).one()
    words = command_words("rhythm time daily_scoreboard 30 18 * * mon-fri")
    reply = rhythm_admin(
        session, config=CFG, viewer=sam, args=words[1:], now=NOW, zone="America/New_York"
    )
    session.commit()
    assert "is now *on* · `30 18 * * mon-fri`" in str(reply.blocks)
    row = session.get(RhythmOverride, "daily_scoreboard")
    assert row is not None and row.schedule == "30 18 * * mon-fri"
