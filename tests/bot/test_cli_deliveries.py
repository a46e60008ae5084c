"""`drumbeat deliveries retry` requeues dead deliveries; `drumbeat run` checks the bot token
with `auth.test` before it serves and stops with one line when Slack refuses it."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import main
from bot.cli.deliveries import since_value
from bot.cli.preflight import slack_auth_problem
from bot.settings import Settings
from rhythms.models import Delivery
from tests.bot.slack_env import TOKEN, sandbox, settings_for
from tests.bot.test_sender import add


def test_deliveries_retry_requeues_dead_rows(
    db_url: str,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = add(session_factory, "U1")
    second = add(session_factory, "U2", rhythm="digest")
    with session_factory() as session, session.begin():
        for row in session.scalars(select(Delivery)):
            row.status, row.error = "dead", "invalid_auth"
    monkeypatch.setenv("DRUMBEAT_DATABASE_URL", db_url)
    assert main(["deliveries", "retry", "--rhythm", "digest", "--dry-run"]) == 0
    assert "would requeue 1 delivery" in capsys.readouterr().out
    assert main(["deliveries", "retry", "--since", "24h"]) == 0
    assert "requeued 2 deliveries" in capsys.readouterr().out
    with session_factory() as session:
        got = {d.id: d.status for d in session.scalars(select(Delivery))}
    assert got == {first: "pending", second: "pending"}


def test_since_accepts_relative_and_iso_times() -> None:
    now = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)
    assert since_value("7d", now=now) == now - dt.timedelta(days=7)
    assert since_value("2026-12-01") == dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def test_auth_test_at_start_names_a_refused_token_without_it() -> None:
    async def scenario() -> tuple[str | None, str | None, str | None]:
        with sandbox() as sb:
            good = settings_for(sb)
            wrong = good.model_copy(update={"slack_bot_token": SecretStr(TOKEN + "-revoked")})
            unreachable = Settings(
                slack_api_url="http://127.0.0.1:9/api/", slack_bot_token=SecretStr(TOKEN)
            )
            return (
                await slack_auth_problem(good),
                await slack_auth_problem(wrong),
                await slack_auth_problem(unreachable),
            )

    good, wrong, unreachable = asyncio.run(scenario())
    assert good is None and unreachable is None  # an outage is not a reason to refuse
    assert wrong is not None and wrong.startswith("Slack refuses SLACK_BOT_TOKEN (invalid_auth)")
    assert TOKEN not in wrong
