"""Secrets never reach logs or error messages. The real `drumbeat run` process is started with
recognisable canary secrets (bot token, signing secret, database password) and put through
its error paths: Slack 5xx and timeouts, permanent failures, forged requests, a junk body,
a bad command; then a second process runs with a token Slack refuses. Everything it printed
is grepped for the canaries. (The CRM connectors' bad-token path has its own test:
tests/metrics/crm/test_hubspot.py::test_bad_token_fails_cleanly_without_leaking_it.)"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.sandbox import Faults, running_sandbox
from bot.sandbox.driver import BotDriver
from bot.sandbox.server import SlackSandbox
from metrics.clock import SystemClock
from metrics.store import make_engine, make_session_factory
from rhythms.models import Delivery
from rhythms.outbox import enqueue
from tests.bot.slack_env import fast_limits
from tests.conftest import EXAMPLE_CONFIG
from tests.scenarios.test_slack_sender_crash import wait_for

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "xoxb-CANARYTOKEN-7f3a9c"
SIGNING = "CANARYSIGNING-5e1d2b8a"
DB_PASSWORD = "CANARYDBPW-91c4"
CANARIES = (TOKEN, SIGNING, DB_PASSWORD, "CANARYTOKEN", "CANARYSIGNING", "CANARYDBPW")


def start(db_url: str, sb: SlackSandbox, log: Path, token: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.pop("SLACK_APP_TOKEN", None)
    env.update(
        DRUMBEAT_DATABASE_URL=db_url,
        DRUMBEAT_CONFIG=str(EXAMPLE_CONFIG),
        DRUMBEAT_CRM_SOURCE="demo",
        SLACK_API_URL=sb.api_url,
        SLACK_BOT_TOKEN=token,
        SLACK_SIGNING_SECRET=SIGNING,
        DRUMBEAT_LOG_LEVEL="DEBUG",
    )
    cmd = [sys.executable, "-m", "bot", "run", "--host", "127.0.0.1", "--port", "0",
           "--pace-scale", "0.01"]  # fmt: skip
    with log.open("wb") as out:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def port_from(log: Path) -> int | None:
    text = log.read_text(errors="replace")
    for line in text.splitlines():  # not the Slack URLs of the DEBUG log (auth.test at start)
        if "listening on http://127.0.0.1:" in line:
            tail = line.split("http://127.0.0.1:")[1]
            digits = "".join(ch for ch in tail[:6] if ch.isdigit())
            return int(digits) if digits else None
    return None


@pytest.mark.parametrize("engine_name", ["postgresql"])
def test_canary_secrets_never_printed(db_url: str, tmp_path: Path) -> None:
    url = make_url(db_url).set(password=DB_PASSWORD).render_as_string(hide_password=False)
    engine = make_engine(url)  # trust auth: the password is accepted and ignored
    factory = make_session_factory(engine)
    faults = Faults(rate_500=0.1, rate_timeout=0.03, timeout_seconds=0.3, seed=5)
    with running_sandbox(token=TOKEN, limits=fast_limits(), faults=faults) as sb:
        for i in range(20):
            sb.state.add_user(f"U{i:05d}", name=f"u{i}")
        now = SystemClock().now()
        with factory() as session, session.begin():
            for recipient in [f"U{i:05d}" for i in range(20)] + ["#no-such-channel", "UGHOST"]:
                enqueue(
                    session,
                    rhythm="daily_scoreboard",
                    period_key="2026-11-23",
                    recipient=recipient,
                    payload={"text": f"score for {recipient}"},
                    now=now,
                )

        def settled() -> bool:
            with factory() as session:
                query = select(func.count()).select_from(Delivery)
                open_rows = query.where(Delivery.status.not_in(("sent", "dead")))
                return int(session.scalar(open_rows) or 0) == 0

        first_log = tmp_path / "first.log"
        proc = start(url, sb, first_log, TOKEN)
        try:
            try:
                wait_for(settled, within=60, what="the outbox to settle")
            except AssertionError:
                with factory() as session:
                    rows = session.scalars(select(Delivery)).all()
                    raise AssertionError(
                        [
                            (d.recipient, d.status, d.error, d.attempts)
                            for d in rows
                            if d.status != "sent"
                        ]
                    ) from None
            wait_for(lambda: port_from(first_log), within=30, what="the HTTP port in the log")
            port = port_from(first_log)

            async def poke() -> None:
                async with aiohttp.ClientSession() as http:
                    bot_url = f"http://127.0.0.1:{port}/slack/events"
                    for secret in (SIGNING, "forged"):
                        driver = BotDriver(sb, bot_url=bot_url, signing_secret=secret, session=http)
                        await driver.slash_command(
                            "/drumbeat", "whoami", user="U00001", channel="C"
                        )
                        await driver.slash_command("/metric", "'", user="U00001", channel="C")
                        await driver.post("payload=%7Bjunk", "application/x-www-form-urlencoded")

            asyncio.run(poke())
            wait_for(lambda: len(sb.state.response_posts()) >= 2, within=30, what="answers")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
        # A token Slack refuses: auth errors are reported without the token.
        second_log = tmp_path / "second.log"
        wrong = start(url, sb, second_log, TOKEN + "-revoked")
        try:
            deadline = time.monotonic() + 30
            while wrong.poll() is None and time.monotonic() < deadline:
                if "invalid_auth" in second_log.read_text(errors="replace"):
                    break
                time.sleep(0.05)
        finally:
            if wrong.poll() is None:
                wrong.send_signal(signal.SIGTERM)
                wrong.wait(20)
    engine.dispose()

    printed = first_log.read_text(errors="replace") + second_log.read_text(errors="replace")
    assert "dead" in printed or "channel_not_found" in printed  # the error paths ran and logged
    assert "invalid_auth" in printed
    leaked = [c for c in CANARIES if c in printed]
    assert not leaked, [line for line in printed.splitlines() if any(c in line for c in leaked)][:5]
