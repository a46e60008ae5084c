"""Scoreboards end to end, `/metric` end to end and the bot's memory (issue #12, items 3, 4, 7).

One database (N reps, 8 days of rollups, `bench.rhythm_scoreboards`), one sandbox Slack in
this process (its own loop in a thread) and the bot in a child process (`bench.bot_process`:
the Bolt app over HTTP plus the outbox sender), talking real HTTP on loopback:

1. one `RhythmEngine.tick()` queues every rep's scoreboard DM (compute + compose + outbox);
2. the sender drains them with the sandbox's limits off (messages/s including the outbox
   bookkeeping; the child's and the sandbox's CPU ms per message); the ceiling: the same
   number of DMs posted by the bare client, no outbox; baseline: one DM at a time on a subset;
3. `/metric calls this week vs last period`, signed, 50 concurrent, timed from sending the
   request until the answer arrives: in the ack's body (the bot answers there when ready
   within its budget; the driver hands it to the sandbox once the whole body is read) or
   at the sandbox's `response_url`, whichever carries it; then the same with
   `METRIC_REPLICAS` bot processes on the same database, the driver spreading the 50
   workers over them (HTTP mode's load balancer);
4. a subset re-sent with Slack's real limits on (600 chat.postMessage/min workspace-wide,
   10 s of burst): wall time / the limits' floor;
5. the child's peak RSS over all of it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
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


METRIC_REPLICAS = 2  # bot processes in the second /metric run (the machine has 2 cores)
Arrival = tuple[float, bool]  # (when, whether it is an answer with blocks)


class _Arrivals(list[dict[str, Any]]):
    """`state.responses` that also tells the benchmark when each reply is shown: an ack
    body the driver hands over, or a response_url post."""

    def __init__(self) -> None:
        super().__init__()
        self.waiters: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[Arrival]]] = {}
        self.lock = threading.Lock()

    def append(self, post: dict[str, Any]) -> None:
        arrived = time.perf_counter()
        super().append(post)
        with self.lock:
            waiter = self.waiters.pop(str(post.get("user")), None)
        if waiter is not None:
            loop, future = waiter
            loop.call_soon_threadsafe(_settle, future, (arrived, bool(post.get("blocks"))))


def _settle(future: asyncio.Future[Arrival], arrival: Arrival) -> None:
    if not future.done():
        future.set_result(arrival)


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


@dataclass
class _MetricRun:
    answers: list[float]  # seconds from sending the request to the answer shown
    failures: int  # no answer within 30 s, an error status, or a reply without the numbers
    in_ack: int  # answers that came in the ack's body (the rest via the response_url)
    wall: float
    driver_cpu: float  # CPU seconds of this process (driver + sandbox) over the run


async def _metric_latencies(
    sandbox: SlackSandbox,
    arrivals: _Arrivals,
    events_urls: list[str],
    users: list[str],
    total: int,
    concurrency: int,
) -> _MetricRun:
    """`total` /metric requests, `concurrency` at once (closed loop), worker k always
    posting to `events_urls[k % len(events_urls)]`."""
    loop = asyncio.get_running_loop()
    run = _MetricRun([], 0, 0, 0.0, 0.0)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        drivers = [
            BotDriver(sandbox, bot_url=url, signing_secret=SIGNING_SECRET, session=session)
            for url in events_urls
        ]

        async def worker(driver: BotDriver) -> None:
            while not queue.empty():
                i = queue.get_nowait()
                user = users[i % len(users)]  # the 50 in flight are distinct users
                future: asyncio.Future[Arrival] = loop.create_future()
                with arrivals.lock:
                    arrivals.waiters[user] = (loop, future)
                started = time.perf_counter()
                reply = await driver.slash_command("/metric", QUERY, user=user, channel="C0BENCH")
                try:
                    arrived, numbers = await asyncio.wait_for(future, 30)
                except TimeoutError:
                    run.failures += 1
                    continue
                run.failures += reply.status != 200 or not numbers
                run.in_ack += bool(reply.body.strip())
                run.answers.append(arrived - started)

        cpu, began = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker(drivers[k % len(drivers)]) for k in range(concurrency)))
        run.wall, run.driver_cpu = time.perf_counter() - began, time.process_time() - cpu
    return run


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
                metric_results, rss_mid = _metric(
                    sandbox, arrivals, bot, (url, config), users, metric_n
                )
                results += metric_results
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
    """Limits off: the outbox drain, the bare client's ceiling on the same payloads, and one
    DM at a time. This process's CPU over each run is the sandbox's (the driver only waits)."""
    print(f"  limits off: draining {reps:,} DMs ...", file=sys.stderr, flush=True)
    load = os.getloadavg()[0]
    here = time.process_time()
    fast = bot.ask(cmd="drain", in_flight=16, limits=True)
    sandbox_ms = (time.process_time() - here) / max(1, fast["sent"]) * 1000
    if fast["sent"] != reps:
        raise SystemExit(f"expected {reps} DMs sent, got {fast}")
    print(f"  ceiling: the bare client posts {reps:,} DMs ...", file=sys.stderr, flush=True)
    bare_load = os.getloadavg()[0]
    here = time.process_time()
    bare = bot.ask(cmd="bare", count=reps, in_flight=16)
    bare_sandbox_ms = (time.process_time() - here) / max(1, bare["sent"]) * 1000
    print(f"  baseline: {baseline_n} DMs one at a time ...", file=sys.stderr, flush=True)
    _requeue(path, baseline_n)
    one = bot.ask(cmd="drain", in_flight=1, limits=True)
    rate, one_rate = fast["sent"] / fast["wall"], one["sent"] / one["wall"]
    bare_rate = bare["sent"] / bare["wall"]
    return [
        Result(
            "delivery",
            f"limits off: {reps:,} DMs",
            rate,
            "msg/s",
            ">= 1,500 msg/s",
            rate >= 1500,
            f"{fast['wall']:.1f} s; 16 in flight; load {load:.1f}; {rate / bare_rate:.0%} of the "
            f"bare client's {bare_rate:,.0f} msg/s; {rate / one_rate:.1f}x one at a time",
        ),
        Result(
            "delivery",
            "limits off: bot CPU per message",
            fast["cpu"] / fast["sent"] * 1000,
            "ms",
            note=f"child process CPU / messages ({fast['cpu']:.1f} s CPU); the sandbox's "
            f"{sandbox_ms:.2f} ms",
        ),
        Result(
            "delivery",
            f"ceiling: bare client, {reps:,} scoreboard DMs, no outbox",
            bare_rate,
            "msg/s",
            note=f"load {bare_load:.1f}; client {bare['cpu'] / bare['sent'] * 1000:.2f} ms "
            f"CPU/msg, sandbox {bare_sandbox_ms:.2f} ms",
        ),
        Result(
            "delivery",
            f"baseline: one DM at a time ({baseline_n})",
            one_rate,
            "msg/s",
            note=f"{one['cpu'] / one['sent'] * 1000:.2f} ms CPU/msg",
        ),
    ]


def _metric(
    sandbox: SlackSandbox,
    arrivals: _Arrivals,
    bot: _Bot,
    db_and_config: tuple[str, Path],
    users: list[str],
    total: int,
) -> tuple[list[Result], dict[str, Any]]:
    """/metric one at a time, 50 concurrent on the one bot, then on `METRIC_REPLICAS` bots;
    the results and the first bot's memory reading after its run."""
    print("  /metric one at a time ...", file=sys.stderr, flush=True)
    alone = asyncio.run(_metric_latencies(sandbox, arrivals, [bot.events_url], users, 200, 1))
    print(f"  /metric x {total:,}, {CONCURRENCY} concurrent ...", file=sys.stderr, flush=True)
    profile = bool(os.environ.get("BENCH_PROFILE"))
    before = bot.ask(cmd="rss")["cpu"]
    if profile:  # BENCH_PROFILE=FILE: the bot writes FILE.metric
        bot.ask(cmd="profile", on=True)
    loaded = asyncio.run(
        _metric_latencies(sandbox, arrivals, [bot.events_url], users, total, CONCURRENCY)
    )
    if profile:
        bot.ask(cmd="profile", on=False)
    rss_mid = bot.ask(cmd="rss")
    cpu_ms = (rss_mid["cpu"] - before) / total * 1000
    results = _metric_results(loaded, alone, 1, cpu_ms, os.getloadavg()[0])
    print(f"  /metric on {METRIC_REPLICAS} bot processes ...", file=sys.stderr, flush=True)
    db, config = db_and_config
    now = sb_bench.AT.isoformat()
    extra = [_Bot(db, config, sandbox.api_url, now) for _ in range(METRIC_REPLICAS - 1)]
    try:
        bots = [bot, *extra]
        cpu = sum(b.ask(cmd="rss")["cpu"] for b in bots)
        spread = asyncio.run(
            _metric_latencies(
                sandbox, arrivals, [b.events_url for b in bots], users, total, CONCURRENCY
            )
        )
        cpu_ms = (sum(b.ask(cmd="rss")["cpu"] for b in bots) - cpu) / total * 1000
    finally:
        for b in extra:
            b.close()
    results += _metric_results(spread, None, METRIC_REPLICAS, cpu_ms, os.getloadavg()[0])
    return results, rss_mid


def _metric_results(
    loaded: _MetricRun, alone: _MetricRun | None, bots: int, cpu_ms: float, load: float
) -> list[Result]:
    """p50 and p99 of a 50-concurrent run on `bots` processes (and the one-at-a-time
    baseline); `cpu_ms`: the bots' CPU per request."""
    p50, p99 = percentile(loaded.answers, 50) * 1000, percentile(loaded.answers, 99) * 1000
    n = len(loaded.answers)
    where = f"{bots} bot process{'es' if bots > 1 else ''}"
    results = [
        Result(
            "metric_command",
            f"/metric p50, {CONCURRENCY} concurrent, {where} (to the answer)",
            p50,
            "ms",
            "<= 15 ms",
            p50 <= 15,
            f"{n / loaded.wall:,.0f} answers/s; bots' CPU {cpu_ms:.2f} ms/request, driver + "
            f"sandbox {loaded.driver_cpu / n * 1000:.2f} ms/request; load {load:.1f}; SQLite",
        ),
        Result(
            "metric_command",
            f"/metric p99, {CONCURRENCY} concurrent, {where} (to the answer)",
            p99,
            "ms",
            "<= 50 ms",
            p99 <= 50 and loaded.failures == 0,
            f"{n:,} answers, {loaded.failures} lost or wrong; {loaded.in_ack:,} in the ack's "
            "body, the rest via response_url",
        ),
    ]
    if alone is not None:
        solo50, solo99 = percentile(alone.answers, 50) * 1000, percentile(alone.answers, 99) * 1000
        results.append(
            Result(
                "metric_command",
                "/metric p50, one at a time (baseline)",
                solo50,
                "ms",
                note=f"p99 {solo99:.1f} ms; {len(alone.answers)} requests, {alone.failures} lost",
            )
        )
    return results
