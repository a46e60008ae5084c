"""Metric lookup latency: one person, one metric, 30 days, from rollups (target p99 < 1 ms)."""

from __future__ import annotations

import datetime as dt
import random

from bench.common import Context, Result, percentile, timed
from bench.demo_org import END, bench_config, demo_org
from metrics.lookup import Scope, metric_value
from metrics.scoreboards import person_scoreboard, team_scoreboards
from metrics.store import make_engine, make_session_factory


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

                samples = timed(lookup, repeat=3000, warmup=200)
                p99 = percentile(samples, 99) * 1000
                note = f"{org.reps:,} reps, sqlite"
                results += [
                    Result(
                        "metric_lookup",
                        f"{metric} p50",
                        percentile(samples, 50) * 1000,
                        "ms",
                        note=note,
                    ),
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
