"""Metric lookup latency: one person, one metric, 30 days, from rollups (target p99 < 1 ms).

Besides wall-clock percentiles it records, per lookup, the thread's CPU time and whether a
garbage collection ran, so the tail can be attributed: a slow sample with little CPU was
waiting (another process had the core, or a page came from disk); one with a GC was ours.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import random
import resource
import time
from collections.abc import Callable

from sqlalchemy.orm import Session

from bench.common import Context, Result, percentile, timed
from bench.demo_org import END, bench_config, demo_org
from metrics.config import MetricsConfig
from metrics.lookup import Scope, metric_value
from metrics.scoreboards import person_scoreboard, team_scoreboards
from metrics.store import make_engine, make_session_factory
from rhythms.config import OrgConfig
from rhythms.metric_answer import answer, resolve_subject
from rhythms.metric_query import MetricQuery, Target


def _diagnosed(fn: Callable[[], object], *, repeat: int, warmup: int) -> dict[str, float]:
    """Wall and CPU percentiles of `fn`, and what the slow (> 1 ms) samples had in common."""
    collections = [0]

    def count(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            collections[0] += 1

    for _ in range(warmup):
        fn()
    gc.callbacks.append(count)
    walls, cpus, gcs, preempted, blocked = [], [], [], [], []
    usage = resource.getrusage
    try:
        for _ in range(repeat):
            before = collections[0]
            was = usage(resource.RUSAGE_THREAD)
            start, cpu = time.perf_counter(), time.thread_time()
            fn()
            walls.append(time.perf_counter() - start)
            cpus.append(time.thread_time() - cpu)
            now = usage(resource.RUSAGE_THREAD)
            gcs.append(collections[0] != before)
            preempted.append(now.ru_nivcsw > was.ru_nivcsw)  # another process got the core
            blocked.append(now.ru_nvcsw > was.ru_nvcsw)  # waited: a read, a lock
    finally:
        gc.callbacks.remove(count)
    slow = [i for i, w in enumerate(walls) if w > 0.001]
    return {
        "p50": percentile(walls, 50) * 1000,
        "p99": percentile(walls, 99) * 1000,
        "cpu_p99": percentile(cpus, 99) * 1000,
        "slow": len(slow),
        "slow_gc": sum(gcs[i] for i in slow),
        "slow_waiting": sum(cpus[i] < walls[i] / 2 for i in slow),
        "slow_preempted": sum(preempted[i] for i in slow),
        "slow_blocked": sum(blocked[i] for i in slow),
    }


def run(ctx: Context) -> list[Result]:
    org = demo_org(ctx.scale)
    config = bench_config(org.reps)
    engine = make_engine(org.url)
    rng = random.Random(1)
    end = (END - dt.timedelta(days=2)).date()  # a Thursday
    start = end - dt.timedelta(days=29)
    results = []
    try:
        with make_session_factory(engine)() as session:
            for metric in ("calls", "win_rate"):

                def lookup(metric: str = metric) -> None:
                    person = rng.randint(1, org.reps)
                    metric_value(
                        session,
                        config=config,
                        metric=metric,
                        scope=Scope.person(person),
                        start=start,
                        end=end,
                    )

                stats = _diagnosed(lookup, repeat=3000, warmup=200)
                p99 = stats["p99"]
                note = (
                    f"{org.reps:,} reps, sqlite; load {os.getloadavg()[0]:.1f}; CPU p99 "
                    f"{stats['cpu_p99']:.3f} ms; {stats['slow']:.0f} of 3,000 > 1 ms: "
                    f"{stats['slow_waiting']:.0f} waiting (CPU < wall/2), "
                    f"{stats['slow_preempted']:.0f} preempted, {stats['slow_blocked']:.0f} "
                    f"blocked (I/O), {stats['slow_gc']:.0f} with a GC"
                )
                results += [
                    Result("metric_lookup", f"{metric} p50", stats["p50"], "ms", note=note),
                    Result("metric_lookup", f"{metric} p99", p99, "ms", "< 1 ms", p99 < 1.0, note),
                ]
            team = timed(
                lambda: metric_value(
                    session,
                    config=config,
                    metric="calls",
                    scope=Scope.team("t007"),
                    start=start,
                    end=end,
                ),
                repeat=200,
            )
            results.append(
                Result(
                    "metric_lookup",
                    "team calls 30d p50",
                    percentile(team, 50) * 1000,
                    "ms",
                    note="100 reps",
                )
            )
            results += _org(session, config, start, end, org.reps)
            as_of = dt.datetime.combine(end, dt.time(19, 0), dt.UTC)
            boards = timed(
                lambda: team_scoreboards(
                    session, config=config, team_key="t042", day=end, as_of=as_of
                ),
                repeat=30,
            )
            results.append(
                Result(
                    "metric_lookup",
                    "team_scoreboards p50",
                    percentile(boards, 50) * 1000,
                    "ms",
                    note="100 reps, 3 metrics, 92-day streak window",
                )
            )
            person = timed(
                lambda: person_scoreboard(
                    session,
                    config=config,
                    person_id=rng.randint(1, org.reps),
                    day=end,
                    as_of=as_of,
                ),
                repeat=100,
            )
            results.append(
                Result(
                    "metric_lookup",
                    "person_scoreboard p50",
                    percentile(person, 50) * 1000,
                    "ms",
                    note="incl. rank within a 100-rep team",
                )
            )
    finally:
        engine.dispose()
    return results


def _org(
    session: Session, metrics_config: MetricsConfig, start: dt.date, end: dt.date, reps: int
) -> list[Result]:
    """The whole org: a 30-day sum, and `/metric calls org` answers (the numbers, the
    members' targets and sparkline) — what a CRO waits for inside Slack's 3-second ack."""
    config = OrgConfig.model_validate(metrics_config.model_dump())
    org_sum = timed(
        lambda: metric_value(
            session, config=config, metric="calls", scope=Scope.org(), start=start, end=end
        ),
        repeat=20,
    )
    results = [
        Result(
            "metric_lookup",
            "org calls 30d p50",
            percentile(org_sum, 50) * 1000,
            "ms",
            note=f"{reps:,} reps, read team by team from the team index",
        )
    ]
    now = dt.datetime.combine(end, dt.time(20, 0), dt.UTC)
    for period in ("this month", "this quarter"):

        def ask(period: str = period) -> None:
            target = Target("org")
            subject = resolve_subject(
                session, config=config, viewer=None, target=target, trusted=True
            )
            query = MetricQuery("calls", target, period, compare=True, chart=False, public=False)
            answer(session, config=config, query=query, subject=subject, now=now)

        times = timed(ask, repeat=10)
        results.append(
            Result(
                "metric_lookup",
                f"/metric calls org, {period}: p50",
                percentile(times, 50) * 1000,
                "ms",
                note=f"{reps:,} members; max {max(times) * 1000:.0f} ms",
            )
        )
    return results
