"""The bot side of the Slack benchmarks, run as its own process (so its CPU time and peak RSS
are the bot's alone): the Bolt app over HTTP (every listener of the org config, so `/metric`)
and the outbox sender, both pointed at a sandbox Slack running in the parent process.

    python -m bench.bot_process --db URL --config CONFIG.json --slack-url URL --now ISO

It prints one JSON line `{"events_url": ...}` when listening, then answers JSON commands read
from stdin, one per line, with one JSON line each on stdout:

    {"cmd": "drain", "in_flight": 16, "limits": true}  -> {"handled", "wall", "cpu"}
    {"cmd": "bare", "count": N, "in_flight": 16}       -> {"sent", "wall", "cpu"}: N
                          scoreboard payloads posted by the bare client (no outbox at all)
    {"cmd": "rss"}                                      -> {"peak_rss_mb", "rss_mb", "cpu"}
    {"cmd": "profile", "on": true|false}                -> cProfile the /metric runs into
                                                           $BENCH_PROFILE.metric (when set)
    {"cmd": "quit"}
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import BackgroundTasks, create_app
from bot.http import start_http
from bot.ratelimit import RateLimiter
from bot.reconcile import delivery_metadata
from bot.runtime import freeze_startup_heap
from bot.sender import Sender
from bot.settings import Settings
from bot.slack_client import make_http_session, make_slack_client
from metrics.clock import TravellingClock
from metrics.store import make_engine, make_session_factory
from rhythms.config import parse_org_config
from rhythms.models import Delivery

TOKEN = "xoxb-bench-token"
SIGNING_SECRET = "bench-signing-secret-0123456789"


def _memory_mb() -> dict[str, float]:
    """Peak (VmHWM) and current (VmRSS) resident memory of this process image, MB.

    Not `ru_maxrss`: on Linux that starts from the parent's RSS at fork (it survives exec),
    which would charge the benchmark's own memory to the bot.
    """
    found = {"VmHWM": float("nan"), "VmRSS": float("nan")}
    for line in Path("/proc/self/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in found:
            found[key] = int(line.split()[1]) / 1024
    return {"peak_rss_mb": found["VmHWM"], "rss_mb": found["VmRSS"]}


def _say(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


async def serve(args: argparse.Namespace) -> None:
    clock = TravellingClock(dt.datetime.fromisoformat(args.now))
    cfg = parse_org_config(json.loads(Path(args.config).read_text()))
    engine = make_engine(args.db)
    factory = make_session_factory(engine)
    settings = Settings(
        slack_api_url=args.slack_url,
        slack_bot_token=SecretStr(TOKEN),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
    )
    session = make_http_session(timeout=30.0)
    client = make_slack_client(settings, session=session)
    tasks = BackgroundTasks()
    app = create_app(
        settings=settings,
        slack_client=client,
        session_factory=factory,
        clock=clock,
        tasks=tasks,
        config=cfg,
    )
    server = await start_http(app, host="127.0.0.1", port=0)
    freeze_startup_heap()  # as bot.runtime.start_runtime does
    _say({"events_url": server.events_url})
    loop = asyncio.get_running_loop()
    # BENCH_PROFILE=FILE: cProfile the drains (the event loop thread) into FILE
    profile = cProfile.Profile() if os.environ.get("BENCH_PROFILE") else None
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            command = json.loads(line)
            if command["cmd"] == "quit":
                break
            if command["cmd"] == "rss":
                _say({**_memory_mb(), "cpu": time.process_time()})
            elif command["cmd"] == "profile":  # around the /metric runs (BENCH_PROFILE=FILE)
                if profile is not None and command.get("on"):
                    profile.enable()
                elif profile is not None:
                    profile.disable()
                    profile.dump_stats(os.environ["BENCH_PROFILE"] + ".metric")
                _say({"profiling": profile is not None and bool(command.get("on"))})
            elif command["cmd"] == "drain":
                sender = Sender(
                    client=client,
                    session_factory=factory,
                    clock=clock,
                    max_in_flight=int(command.get("in_flight", 16)),
                    limiter=RateLimiter(enabled=bool(command.get("limits", True))),
                    seed=1,
                )
                cpu, wall = time.process_time(), time.perf_counter()
                if profile is not None:
                    profile.enable()
                handled = await sender.drain()
                if profile is not None:
                    profile.disable()
                    profile.dump_stats(os.environ["BENCH_PROFILE"])
                _say(
                    {
                        "handled": handled,
                        "sent": sender.sent,
                        "wall": time.perf_counter() - wall,
                        "cpu": time.process_time() - cpu,
                    }
                )
            elif command["cmd"] == "bare":
                _say(await _bare_posts(client, factory, command))
    finally:
        await tasks.drain()
        await server.stop()
        await session.close()
        engine.dispose()


async def _bare_posts(
    client: AsyncWebClient, factory: sessionmaker[Session], command: dict[str, Any]
) -> dict[str, Any]:
    """The delivery baseline: the same chat.postMessage calls the sender makes, with no
    claiming, recording or retry logic — what this client and this sandbox can do at all
    on this machine. `count` posts cycle through the first 500 scoreboard payloads (read
    beforehand, untimed; few, so the bot's peak RSS is not the baseline's)."""
    with factory() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.recipient, Delivery.payload)
            .where(Delivery.rhythm == "daily_scoreboard")
            .order_by(Delivery.id)
            .limit(500)
        ).all()
    total = int(command["count"])
    queue = list(range(total - 1, -1, -1))
    sent = 0

    async def worker() -> None:
        nonlocal sent
        while queue:
            delivery_id, recipient, payload = rows[queue.pop() % len(rows)]
            answer = await client.chat_postMessage(
                channel=recipient,
                text=payload["text"],
                blocks=payload.get("blocks"),
                metadata=delivery_metadata(delivery_id),
                unfurl_links=False,
            )
            sent += bool(answer.get("ok"))

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(int(command.get("in_flight", 16)))))
    return {"sent": sent, "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--slack-url", required=True)
    parser.add_argument("--now", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
