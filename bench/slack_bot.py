"""Scoreboards end to end, `/metric` end to end and the bot's memory (issue #12, items 3, 4, 7).

One database (N reps, 8 days of rollups, `bench.rhythm_scoreboards`), one sandbox Slack in
this process (its own loop in a thread) and the bot in a child process (`bench.bot_process`:
the Bolt app over HTTP plus the outbox sender), talking real HTTP on loopback:

1. one `RhythmEngine.tick()` queues every rep's scoreboard DM (compute + compose + outbox);
2. the sender drains them with the sandbox's limits off (messages/s including the outbox
   bookkeeping; the child's CPU ms per message); baseline: one DM at a time on a subset;
3. `/metric calls this week vs last period`, signed, 50 concurrent, timed from sending the
   request until the answer reaches the sandbox's `response_url` (not just the ack);
4. a subset re-sent with Slack's real limits on (600 chat.postMessage/min workspace-wide,
   10 s of burst): wall time / the limits' floor;
5. the child's peak RSS over all of it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

import aiohttp

from bench import rhythm_scoreboards as sb_bench
from bench.bot_process import SIGNING_SECRET, TOKEN
from bench.common import Context, Result, percentile
from bot.sandbox import RateLimits, running_sandbox
from bot.sandbox.driver import BotDriver
from bot.sandbox.limits import POST_MESSAGE_WORKSPACE_PER_MINUTE, TIER_BURST_SECONDS
from bot.sandbox.server import SlackSandbox

CONCURRENCY = 50
QUERY = "calls this week vs last period"


class _Arrivals(list[dict[str, Any]]):
    """`state.responses` that also tells the benchmark when each response_url post lands."""

    def __init__(self) -> None:
        super().__init__()
        self.waiters: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[float]]] = {}
        self.lock = threading.Lock()

    def append(self, post: dict[str, Any]) -> None:
        arrived = time.perf_counter()
        super().append(post)
        with self.lock:
            waiter = self.waiters.pop(str(post.get("user")), None)
        if waiter is not None:
            loop, future = waiter
            loop.call_soon_threadsafe(_settle, future, arrived)


def _settle(future: asyncio.Future[float], arrived: float) -> None:
    if not future.done():
        future.set_result(arrived)


class _Bot:
    """The child process and its one-line JSON protocol."""

    def __init__(self, db: str, config: Path, slack_url: str, now: str) -> None:
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "bench.bot_process", "--db", db),
                *("--config", str(config), "--slack-url", slack_url, "--now", now),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.events_url = str(self._read()["events_url"])

    def _read(self) -> dict[str, Any]:
        out: IO[str] | None = self.proc.stdout
        assert out is not None
        line = out.readline()
        if not line:
            raise RuntimeError(f"the bot process exited ({self.proc.wait()})")
        data: dict[str, Any] = json.loads(line)
        return data

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write('{"cmd": "quit"}\n')
            self.proc.stdin.flush()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _requeue(path: Path, count: int) -> None:
    """Put `count` sent scoreboard DMs back to pending (re-sent as new messages)."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE deliveries SET status = 'pending', attempts = 0, claimed_by = NULL, "
            "claimed_at = NULL, sent_at = NULL, channel = NULL, ts = NULL, error = NULL "
            "WHERE id IN (SELECT id FROM deliveries WHERE rhythm = 'daily_scoreboard' "
            "ORDER BY id LIMIT ?)",
            (count,),
        )


async def _metric_latencies(
    sandbox: SlackSandbox,
    arrivals: _Arrivals,
    events_url: str,
    users: list[str],
    total: int,
    concurrency: int,
) -> tuple[list[float], list[float], int]:
    """(answer latencies, ack latencies, failures) of `total` /metric requests,
    `concurrency` at once."""
    loop = asyncio.get_running_loop()
    answers: list[float] = []
    acks: list[float] = []
    failures = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        driver = BotDriver(
            sandbox, bot_url=events_url, signing_secret=SIGNING_SECRET, session=session
        )

        async def worker() -> None:
            nonlocal failures
            while not queue.empty():
                i = queue.get_nowait()
                user = users[i % len(users)]  # the 50 in flight are distinct users
                future: asyncio.Future[float] = loop.create_future()
                with arrivals.lock:
                    arrivals.waiters[user] = (loop, future)
                started = time.perf_counter()
                reply = await driver.slash_command("/metric", QUERY, user=user, channel="C0BENCH")
                acks.append(reply.elapsed)
                try:
                    arrived = await asyncio.wait_for(future, 30)
                except TimeoutError:
                    failures += 1
                    continue
                if reply.status != 200:
                    failures += 1
                answers.append(arrived - started)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return answers, acks, failures


def run(ctx: Context) -> list[Result]:
    full = ctx.scale == "full"
    reps = 10_000 if full else 1_000
    baseline_n = 1_000 if full else 300
    limited_n = 400 if full else 200
    metric_n = 2_000 if full else 500
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        print(f"  building {reps:,} reps ...", file=sys.stderr, flush=True)
        url = sb_bench.build(reps, path)
        print("  tick: scoreboards to the outbox ...", file=sys.stderr, flush=True)
        results.append(sb_bench.result(reps, sb_bench.tick(url, reps)))
        config = Path(tmp) / "org.json"
        org = sb_bench.org(reps)
        config.write_text(json.dumps(org))
        users = [str(p["slack_user_id"]) for p in org["people"] if p.get("slack_user_id")]
        with running_sandbox(token=TOKEN, limits=RateLimits(enabled=False)) as sandbox:
            for user in users:
                sandbox.state.add_user(user, name=user.lower(), email=f"{user}@x.example")
            arrivals = _Arrivals()
            sandbox.state.responses = arrivals
            bot = _Bot(url, config, sandbox.api_url, sb_bench.AT.isoformat())
            try:
                results += _delivery(bot, path, reps, baseline_n)
                print("  /metric one at a time ...", file=sys.stderr, flush=True)
                alone = asyncio.run(
                    _metric_latencies(sandbox, arrivals, bot.events_url, users, 200, 1)
                )
                print(f"  /metric x {metric_n:,}, {CONCURRENCY} concurrent ...", file=sys.stderr)
                before = bot.ask(cmd="rss")
                began = time.perf_counter()
                loaded = asyncio.run(
                    _metric_latencies(
                        sandbox, arrivals, bot.events_url, users, metric_n, CONCURRENCY
                    )
                )
                wall = time.perf_counter() - began
                rss_mid = bot.ask(cmd="rss")
                cpu_ms = (rss_mid["cpu"] - before["cpu"]) / metric_n * 1000
                results += _metric_results(loaded, alone, reps, cpu_ms, metric_n / wall)
                print(f"  limits on: {limited_n} DMs ...", file=sys.stderr, flush=True)
                sandbox.limits = RateLimits()
                _requeue(path, limited_n)
                limited = bot.ask(cmd="drain", in_flight=16, limits=True)
                rss = bot.ask(cmd="rss")
            finally:
                bot.close()
    burst = POST_MESSAGE_WORKSPACE_PER_MINUTE / 60 * TIER_BURST_SECONDS
    floor = max(0.0, limited_n - burst) / (POST_MESSAGE_WORKSPACE_PER_MINUTE / 60)
    ratio = limited["wall"] / floor
    results.append(
        Result(
            "delivery",
            f"limits on: {limited_n} DMs, wall / floor",
            ratio,
            "x",
            "<= 1.1",
            ratio <= 1.1 and limited["sent"] == limited_n,
            f"{limited['wall']:.1f} s vs floor {floor:.0f} s ({limited_n} - {burst:.0f} burst at "
            f"{POST_MESSAGE_WORKSPACE_PER_MINUTE}/min); subset of the 10,000 (floor would be "
            f"{(reps - burst) / 10 / 60:.0f} min); {limited['sent']} sent",
        )
    )
    results.append(
        Result(
            "memory",
            "bot process peak RSS (delivery + /metric)",
            rss["peak_rss_mb"],
            "MB",
            "< 300 MB",
            rss["peak_rss_mb"] < 300,
            f"VmHWM of the bot process; {rss_mid['peak_rss_mb']:.0f} MB after /metric, "
            f"{rss['rss_mb']:.0f} MB now",
        )
    )
    return results


def _delivery(bot: _Bot, path: Path, reps: int, baseline_n: int) -> list[Result]:
    print(f"  limits off: draining {reps:,} DMs ...", file=sys.stderr, flush=True)
    fast = bot.ask(cmd="drain", in_flight=16, limits=True)
    if fast["sent"] != reps:
        raise SystemExit(f"expected {reps} DMs sent, got {fast}")
    print(f"  baseline: {baseline_n} DMs one at a time ...", file=sys.stderr, flush=True)
    _requeue(path, baseline_n)
    one = bot.ask(cmd="drain", in_flight=1, limits=True)
    rate, one_rate = fast["sent"] / fast["wall"], one["sent"] / one["wall"]
    return [
        Result(
            "delivery",
            f"limits off: {reps:,} DMs",
            rate,
            "msg/s",
            ">= 1,500 msg/s",
            rate >= 1500,
            f"{fast['wall']:.1f} s; 16 in flight; {rate / one_rate:.1f}x the one-at-a-time "
            "baseline",
        ),
        Result(
            "delivery",
            "limits off: bot CPU per message",
            fast["cpu"] / fast["sent"] * 1000,
            "ms",
            note=f"child process CPU / messages ({fast['cpu']:.1f} s CPU)",
        ),
        Result(
            "delivery",
            f"baseline: one DM at a time ({baseline_n})",
            one_rate,
            "msg/s",
            note=f"{one['cpu'] / one['sent'] * 1000:.2f} ms CPU/msg",
        ),
    ]


def _metric_results(
    loaded: tuple[list[float], list[float], int],
    alone: tuple[list[float], list[float], int],
    reps: int,
    cpu_ms: float,
    rate: float,
) -> list[Result]:
    answers, acks, failures = loaded
    p50, p99 = percentile(answers, 50) * 1000, percentile(answers, 99) * 1000
    solo50, solo99 = percentile(alone[0], 50) * 1000, percentile(alone[0], 99) * 1000
    return [
        Result(
            "metric_command",
            f"/metric p50, {CONCURRENCY} concurrent (to response_url)",
            p50,
            "ms",
            "<= 15 ms",
            p50 <= 15,
            f"{rate:,.0f} answers/s; bot CPU {cpu_ms:.1f} ms/request; {reps:,} reps, SQLite",
        ),
        Result(
            "metric_command",
            f"/metric p99, {CONCURRENCY} concurrent (to response_url)",
            p99,
            "ms",
            "<= 50 ms",
            p99 <= 50 and failures == 0,
            f"{len(answers):,} answers, {failures} lost; ack alone p50 "
            f"{percentile(acks, 50) * 1000:.0f} ms, p99 {percentile(acks, 99) * 1000:.0f} ms",
        ),
        Result(
            "metric_command",
            "/metric p50, one at a time (baseline)",
            solo50,
            "ms",
            note=f"p99 {solo99:.1f} ms; {len(alone[0])} requests, {alone[2]} lost",
        ),
    ]
