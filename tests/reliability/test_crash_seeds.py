"""kill -9 the bot at random points of a fan-out (several seeds, one of them killed twice),
restart it: every delivery reaches Slack exactly once.

Slack answers `chat.postMessage` after a small latency, so a kill lands with sends in every
phase: claimed and not yet posted, posted and unanswered, answered and not yet recorded. The
restarted process runs with `--claim-lease 0`, so its start-up reconciliation settles the
dead process's claims from `conversations.history` at once (in production the lease is 10
minutes; see docs/delivery.md).
"""

from __future__ import annotations

import random
import signal
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.sandbox import running_sandbox
from metrics.clock import SystemClock
from metrics.store import make_engine, make_session_factory
from rhythms.models import Delivery
from rhythms.outbox import enqueue
from tests.bot.slack_env import TOKEN, fast_limits
from tests.reliability.support import FULL, delivery_ids_in_slack
from tests.scenarios.test_slack_sender_crash import start_bot, wait_for

TOTAL = 80
# (engine, seed, kills): SQLite once, PostgreSQL with several seeds; more with the flag.
RUNS = [("sqlite", 1, 1), ("postgresql", 2, 1), ("postgresql", 3, 2)]
if FULL:
    RUNS += [(e, seed, 1 + seed % 3) for e in ("sqlite", "postgresql") for seed in range(4, 10)]


def kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize(("engine_name", "seed", "kills"), RUNS)
def test_killed_at_random_points_sends_each_delivery_once(
    db_url: str, tmp_path: Path, seed: int, kills: int
) -> None:
    rng = random.Random(seed)
    engine = make_engine(db_url)
    factory = make_session_factory(engine)

    def count(status: str) -> int:
        with factory() as session:
            query = select(func.count()).select_from(Delivery).where(Delivery.status == status)
            return int(session.scalar(query) or 0)

    with running_sandbox(token=TOKEN, limits=fast_limits()) as sb:
        users = [f"U{i:05d}" for i in range(TOTAL)]
        for user in users:
            sb.state.add_user(user, name=user.lower())
        now = SystemClock().now()
        with factory() as session, session.begin():
            ids = [
                enqueue(
                    session,
                    rhythm="daily_scoreboard",
                    period_key="2026-11-23",
                    recipient=u,
                    payload={"text": f"score for {u}"},
                    now=now,
                ).id
                for u in users
            ]
        sb.latency["chat.postMessage"] = 0.03

        def posted() -> list[int]:
            return delivery_ids_in_slack(sb.state.all_messages())

        kill_points = sorted(rng.sample(range(3, TOTAL - 10), kills))
        in_window = 0  # posted in Slack but not recorded sent when the process died
        for n, point in enumerate(kill_points):
            proc = start_bot(db_url, sb, tmp_path, f"run{n}")
            try:
                wait_for(lambda p=point: len(posted()) >= p, within=60, what=f"{point} posts")
            finally:
                kill(proc)
            assert count("sent") < TOTAL, "killed too late to prove anything"
            in_window += len(posted()) - count("sent")
        assert in_window >= 1  # the kills hit the window reconciliation exists for
        last = start_bot(db_url, sb, tmp_path, "last")
        try:
            wait_for(lambda: count("sent") == TOTAL, within=90, what="all deliveries sent")
        finally:
            last.send_signal(signal.SIGTERM)
            assert last.wait(15) == 0
        in_slack = posted()

    assert sorted(in_slack) == sorted(ids)  # each exactly once
    with factory() as session:
        rows = session.scalars(select(Delivery)).all()
    by_id = {m["metadata"]["event_payload"]["delivery_id"]: m for m in sb.state.all_messages()}
    assert all(r.status == "sent" and r.ts == by_id[r.id]["ts"] for r in rows)
    engine.dispose()
