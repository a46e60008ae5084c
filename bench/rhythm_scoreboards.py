"""Daily scoreboards for N reps computed, composed and written to the outbox in one run.

Issue #6's target: 10,000 reps in under 5 s. Builds its own SQLite database (N reps in
teams of 100, 4 input metrics with daily targets, 8 days of `metric_daily` rows), then times
one `RhythmEngine.tick()` at 17:30 in a fixed zone, so a single run serves every rep: the
real `metrics.scoreboards` (one team_scoreboards call per team), `rep_message` per rep and
the bulk outbox insert (`delivery_batch.enqueue_all`: INSERT … ON CONFLICT DO NOTHING,
1,000 rows a statement), in one transaction. The metrics engine's share is timed apart.

    python -m bench.rhythm_scoreboards [--reps 10000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from bench.common import Context, Result
from bot import db
from metrics.clock import TravellingClock
from metrics.config import MetricsConfig
from metrics.directory import apply_directory
from metrics.scoreboard import PersonScoreboard
from metrics.store import make_engine, make_session_factory
from rhythms.config import parse_org_config
from rhythms.engine import RhythmEngine
from rhythms.registry import default_registry
from rhythms.scoreboard import MetricsScoreboards

DAY = dt.date(2026, 11, 24)
METRICS = (("calls", 60), ("emails", 40), ("meetings_booked", 2), ("opportunities_created", 1))


def org(reps: int) -> dict[str, Any]:
    teams = max(1, reps // 100)
    people: list[dict[str, Any]] = [
        {"email": "cro@x.example", "name": "CRO", "role": "exec"},
        {"email": "ops@x.example", "name": "Ops", "role": "admin"},
    ]
    people += [
        {
            "email": f"rep{i}@x.example",
            "name": f"Rep {i}",
            "role": "rep",
            "team": f"t{i % teams}",
            "slack_user_id": f"U{i:08d}",
        }
        for i in range(reps)
    ]
    return {
        "org": {"name": "Bench", "timezone": "America/Chicago"},
        "calendar": {"country": "US"},
        "teams": [{"key": f"t{t}", "name": f"Team {t}"} for t in range(teams)],
        "people": people,
        "metrics": [{"name": m, "targets": {"rep": {"daily": d}}} for m, d in METRICS],
        "rhythms": {
            "daily_scoreboard": {
                "schedule": "30 17 * * mon-fri",
                "timezone": "America/Chicago",
                "audience": {"roles": ["rep"]},
            }
        },
    }


AT = dt.datetime(2026, 11, 24, 23, 30, tzinfo=dt.UTC)  # 17:30 Chicago on DAY


def build(reps: int, path: Path) -> str:
    """The org's SQLite database at `path` (people, teams, 8 days of rollups); its URL."""
    url = f"sqlite:///{path}"
    db.upgrade(url)
    cfg = parse_org_config(org(reps))
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as session:
        apply_directory(session, cfg, today=dt.date(2026, 1, 1))
        session.commit()
    engine.dispose()
    conn = sqlite3.connect(path)
    ids = [row[0] for row in conn.execute("SELECT id FROM people WHERE role = 'rep'")]
    rows = [
        (pid, metric, (DAY - dt.timedelta(days=d)).isoformat(), float((pid + d) % (t * 2)), "t")
        for pid in ids
        for metric, t in METRICS
        for d in range(8)
    ]
    conn.executemany(
        "INSERT INTO metric_daily (person_id, metric, day, value, team_key) VALUES (?,?,?,?,?)",
        rows,
    )
    conn.commit()
    conn.close()
    return url


class _TimedSource(MetricsScoreboards):
    """The metrics engine as the scoreboard source, with the time spent inside it summed."""

    seconds = 0.0

    def team_scoreboards(
        self,
        session: Session,
        *,
        config: MetricsConfig,
        team_key: str,
        day: dt.date,
        as_of: dt.datetime,
    ) -> list[PersonScoreboard]:
        start = time.perf_counter()
        try:
            return super().team_scoreboards(
                session, config=config, team_key=team_key, day=day, as_of=as_of
            )
        finally:
            self.seconds += time.perf_counter() - start


def tick(url: str, reps: int) -> dict[str, float]:
    """One engine tick at 17:30: every rep's scoreboard computed, composed and queued."""
    cfg = parse_org_config(org(reps))
    engine = make_engine(url)
    factory = make_session_factory(engine)
    source = _TimedSource()
    rhythm_engine = RhythmEngine(
        session_factory=factory,
        config=cfg,
        clock=TravellingClock(AT),
        registry=default_registry(source),
    )
    start, cpu = time.perf_counter(), time.process_time()
    report = rhythm_engine.tick()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    engine.dispose()
    sent = sum(o.deliveries for o in report.outcomes)
    if sent != reps:
        raise SystemExit(f"expected {reps} deliveries, got {sent}: {report}")
    return {
        "seconds": elapsed,
        "cpu": cpu,
        "metrics": source.seconds,
        "per_second": reps / elapsed,
        "sql": _hand_written(url),
        "load": os.getloadavg()[0],
    }


def _hand_written(url: str) -> float:
    """Baseline: one hand-written query for the numbers a scoreboard shows (today and the
    week so far per rep and metric), no composing and no outbox. Seconds."""
    path = url.removeprefix("sqlite:///")
    monday = DAY - dt.timedelta(days=DAY.weekday())
    with sqlite3.connect(path) as conn:
        start = time.perf_counter()
        conn.execute(
            "SELECT person_id, metric, sum(CASE WHEN day = ? THEN value ELSE 0 END), "
            "sum(value) FROM metric_daily WHERE day BETWEEN ? AND ? GROUP BY person_id, metric",
            (DAY.isoformat(), monday.isoformat(), DAY.isoformat()),
        ).fetchall()
        return time.perf_counter() - start


def measure(reps: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        return tick(build(reps, Path(tmp) / "bench.db"), reps)


def result(reps: int, found: dict[str, float]) -> Result:
    return Result(
        "scoreboards",
        f"{reps} reps: compute + compose + outbox (SQLite)",
        found["seconds"],
        "s",
        target="< 5 s for 10,000",
        ok=found["seconds"] < 5 if reps == 10_000 else None,
        note=f"{found['per_second']:,.0f} reps/s, CPU {found['cpu']:.2f} s, load "
        f"{found['load']:.1f}; of which the metrics engine (team_scoreboards) "
        f"{found['metrics']:.2f} s, compose + outbox + run bookkeeping the rest; baseline: one "
        f"hand-written SQL query for the same numbers {found['sql'] * 1000:.0f} ms (no compose, "
        "no outbox)",
    )


def run(ctx: Context) -> list[Result]:
    reps = 10_000 if ctx.scale == "full" else 1_000
    return [result(reps, measure(reps))]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=10_000)
    args = parser.parse_args()
    print(measure(args.reps))
