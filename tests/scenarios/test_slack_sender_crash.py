"""Kill the bot with SIGKILL mid-drain, restart it: every delivery reaches Slack exactly once.

The sandbox carries out `chat.postMessage` calls but withholds the answers after the first
20, so at the kill there are deliveries Slack has posted and the database still holds as
claimed — the window between the HTTP call and the DB update — and (claims run in batches
ahead of the sends) claimed rows never posted. The restarted process reconciles them from
`conversations.history` (message metadata): the posted ones are recorded, not posted again;
the others are posted once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from bot.sandbox import running_sandbox
from bot.sandbox.server import SlackSandbox
from metrics.clock import SystemClock
from metrics.store import make_engine, make_session_factory
from rhythms.models import Delivery
from rhythms.outbox import enqueue
from tests.bot.slack_env import SIGNING_SECRET, TOKEN, fast_limits

ROOT = Path(__file__).resolve().parents[2]
ANSWERED_BEFORE_KILL = 20
IN_FLIGHT = 6
TOTAL = 50


def start_bot(db_url: str, sb: SlackSandbox, tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.pop("SLACK_APP_TOKEN", None)
    config = tmp_path / "drumbeat.toml"  # no people, no rhythms: only the outbox sends
    config.write_text('[org]\nname = "Sender crash"\ntimezone = "UTC"\n', encoding="utf-8")
    env.update(
        DRUMBEAT_DATABASE_URL=db_url,
        DRUMBEAT_CONFIG=str(config),
        DRUMBEAT_CRM_SOURCE="demo",
        DRUMBEAT_SYNC_MINUTES="0",
        SLACK_API_URL=sb.api_url,
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
    )
    cmd = [
        sys.executable,
        "-m",
        "bot",
        "run",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--claim-lease",
        "0",
        "--pace-scale",
        "0.01",
        "--max-in-flight",
        str(IN_FLIGHT),
    ]
    with (tmp_path / f"{name}.log").open("wb") as log:  # the child keeps its own handle
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_for(condition: object, *, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_killed_mid_drain_and_restarted_sends_each_delivery_once(
    db_url: str, tmp_path: Path
) -> None:
    engine = make_engine(db_url)
    factory = make_session_factory(engine)

    def count(status: str) -> int:
        with factory() as session:
            return int(
                session.scalar(
                    select(func.count()).select_from(Delivery).where(Delivery.status == status)
                )
                or 0
            )

    with running_sandbox(token=TOKEN, limits=fast_limits()) as sb:
        users = [f"U{i:05d}" for i in range(TOTAL)]
        for user in users:
            sb.state.add_user(user, name=user.lower())
        with factory() as session, session.begin():
            ids = [
                enqueue(
                    session,
                    rhythm="daily_scoreboard",
                    period_key="2026-11-23",
                    recipient=u,
                    payload={"text": f"score for {u}"},
                    now=SystemClock().now(),
                ).id
                for u in users
            ]
        sb.hold_answers("chat.postMessage", after=ANSWERED_BEFORE_KILL)

        def posted() -> list[int]:
            return [
                m["metadata"]["event_payload"]["delivery_id"]
                for m in sb.state.all_messages()
                if m.get("metadata")
            ]

        first = start_bot(db_url, sb, tmp_path, "first")
        try:
            # Stalled: 20 recorded, every send slot holds a post Slack made but did not
            # answer, and the sender's claimed rows include those (claims run in batches
            # ahead of the sends, so rows claimed but not yet posted may wait too).
            wait_for(
                lambda: (
                    count("sent") == ANSWERED_BEFORE_KILL
                    and len(posted()) == ANSWERED_BEFORE_KILL + IN_FLIGHT
                    and count("claimed") >= IN_FLIGHT
                ),
                within=60,
                what="the first process to post and stall",
            )
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        stalled = count("claimed")
        # In the window: posted in Slack, still "claimed" in the DB (one per send slot);
        # any other claimed row was never posted. Both kinds must end up sent once.
        assert len(posted()) - ANSWERED_BEFORE_KILL == IN_FLIGHT <= stalled
        assert stalled + count("pending") == TOTAL - ANSWERED_BEFORE_KILL
        sb.release_answers()

        second = start_bot(db_url, sb, tmp_path, "second")
        try:
            wait_for(lambda: count("sent") == TOTAL, within=60, what="all deliveries sent")
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(15) == 0

    assert Counter(posted()) == Counter(ids)  # each exactly once
    assert sb.count("chat.postMessage", ok=True) == TOTAL
    with factory() as session:
        rows = session.scalars(select(Delivery)).all()
    by_id = {m["metadata"]["event_payload"]["delivery_id"]: m for m in sb.state.all_messages()}
    assert all(r.ts == by_id[r.id]["ts"] for r in rows)
    engine.dispose()
