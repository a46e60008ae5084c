"""`drumbeat run --sandbox --port 0` starts in HTTP mode, answers /healthz and signed requests."""

from __future__ import annotations

import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import text

from bot.sandbox.driver import signed_headers
from metrics.store import make_engine
from tests.conftest import EXAMPLE_CONFIG

ROOT = Path(__file__).resolve().parents[2]
SECRET = "run-command-test-secret"


def read_until(proc: subprocess.Popen[str], pattern: str, within: float) -> re.Match[str]:
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline, seen = time.monotonic() + within, ""
    while time.monotonic() < deadline:
        if selector.select(timeout=deadline - time.monotonic()):
            line = proc.stdout.readline()
            seen += line
            found = re.search(pattern, line)
            if found:
                return found
            if not line and proc.poll() is not None:
                break
    raise AssertionError(f"no {pattern!r} in output:\n{seen}")


def test_run_sandbox_serves_healthz_and_verifies_signatures(
    sqlite_template: Path, tmp_path: Path
) -> None:
    # A CLI smoke test: one engine is enough (the sender's SQL is tested on both elsewhere).
    shutil.copyfile(sqlite_template, tmp_path / "bot.db")
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    env = dict(
        os.environ,
        PYTHONUNBUFFERED="1",
        DRUMBEAT_DATABASE_URL=db_url,
        DRUMBEAT_CONFIG=str(EXAMPLE_CONFIG),
        DRUMBEAT_CRM_SOURCE="demo",
        SLACK_SIGNING_SECRET=SECRET,
        COLUMNS="200",
    )
    env.pop("SLACK_APP_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--sandbox", "--host", "127.0.0.1", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = read_until(proc, r"listening on (http://127\.0\.0\.1:\d+)", within=30).group(1)
        with urllib.request.urlopen(url + "/healthz", timeout=5) as health:
            assert health.status == 200
        body = urlencode(
            {
                "command": "/drumbeat",
                "text": "help",
                "user_id": "U1",
                "channel_id": "C1",
                "response_url": url + "/nowhere",
            }
        )
        for secret, expected in (("forged", 401), (SECRET, 200)):
            request = urllib.request.Request(
                url + "/slack/events",
                data=body.encode(),
                method="POST",
                headers=signed_headers(secret, body, "application/x-www-form-urlencoded"),
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as resp:
                    status = resp.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            assert status == expected
        # at start the bot maps people to the (sandbox) Slack users by email: users.list
        engine = make_engine(db_url)
        try:
            deadline = time.monotonic() + 20
            mapped = 0
            while time.monotonic() < deadline and mapped < 14:
                with engine.connect() as conn:
                    mapped = conn.execute(
                        text("SELECT count(*) FROM people WHERE slack_user_id IS NOT NULL")
                    ).scalar_one()
            assert mapped == 14  # everyone in the example config
        finally:
            engine.dispose()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        if proc.stdout is not None:
            proc.stdout.close()
