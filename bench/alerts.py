"""Alert evaluation of the example rule set over N reps (issue #12, item 5; target < 500 ms).

The example config's teams, metrics and `[[alerts]]` as they ship, with its people replaced by
N reps spread over the SDR, AE and CS teams (four zones), and 15 days of `calls` and
`meetings_booked` rollups (some reps silent today, some red for days). Times one
`evaluate_rules` call (rules due, claim, evaluate, route, outbox; the caller's commit is
included) at 13:05 New York on a Monday: the first evaluation of the day (every firing is new)
and the next slot 30 minutes later (steady state: states exist, little changes). The note
gives the CPU time of the call too (steadier than wall time on a shared machine) and the
1-minute load average when it started.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

from bench.common import Context, Result
from bot import db
from metrics.directory import apply_directory
from metrics.store import make_engine, make_session_factory
from rhythms.alerts import evaluate_rules
from rhythms.config import parse_org_config

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "drumbeat.toml"
MONDAY = dt.date(2026, 11, 23)
AT = dt.datetime(2026, 11, 23, 18, 5, tzinfo=dt.UTC)  # 13:05 New York, 10:05 Los Angeles
ZONES = ("America/New_York", "America/Chicago", "America/Denver", "Europe/London")


def org(reps: int) -> dict[str, Any]:
    raw = tomllib.loads(EXAMPLE.read_text())
    teams = [t["key"] for t in raw["teams"]]
    keep = [p for p in raw["people"] if p.get("role") in ("exec", "admin", "manager")]
    for i, person in enumerate(keep):
        person["slack_user_id"] = f"UM{i:07d}"
    raw["people"] = keep + [
        {
            "email": f"rep{i}@acme.example",
            "name": f"Rep {i}",
            "role": "rep",
            "team": teams[i % len(teams)],
            "timezone": ZONES[i % len(ZONES)],
            "slack_user_id": f"U{i:08d}",
        }
        for i in range(reps)
    ]
    return raw


def _seed(path: Path, reps: int) -> None:
    conn = sqlite3.connect(path)
    people = conn.execute("SELECT id, team_key FROM people WHERE role = 'rep'").fetchall()
    rows = []
    for pid, team in people:
        for d in range(15):
            day = (MONDAY - dt.timedelta(days=d)).isoformat()
            silent = pid % 10 == 0 and d == 0  # 10% with no calls yet today
            red = pid % 7 == 0 and d < 4  # some red for days
            calls = 0.0 if silent else float(5 if red else 40 + (pid + d) % 30)
            meetings = float((pid + d) % 3) if d else float(pid % 2)
            rows.append((pid, "calls", day, calls, team))
            rows.append((pid, "meetings_booked", day, meetings, team))
    conn.executemany(
        "INSERT INTO metric_daily (person_id, metric, day, value, team_key) VALUES (?,?,?,?,?)",
        rows,
    )
    conn.commit()
    conn.close()


def run(ctx: Context) -> list[Result]:
    reps = 10_000 if ctx.scale == "full" else 1_000
    cfg = parse_org_config(org(reps))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "alerts.db"
        url = f"sqlite:///{path}"
        print(f"  building {reps:,} reps ...", file=sys.stderr, flush=True)
        db.upgrade(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with factory() as session:
            apply_directory(session, cfg, today=dt.date(2026, 1, 1))
            session.commit()
        _seed(path, reps)
        try:
            for label, at in (
                ("first evaluation of the day", AT),
                ("next slot (+30 min)", AT + dt.timedelta(minutes=30)),
            ):
                with factory() as session:
                    load = os.getloadavg()[0]
                    began, cpu = time.perf_counter(), time.process_time()
                    outcome = evaluate_rules(session, config=cfg, now=at)
                    session.commit()
                    ms = (time.perf_counter() - began) * 1000
                    cpu_ms = (time.process_time() - cpu) * 1000
                evaluated = sum(r.evaluated for r in outcome)
                fired = sum(len(r.fired) for r in outcome)
                deliveries = sum(r.deliveries for r in outcome)
                ran = sum(1 for r in outcome if not r.skipped)
                results.append(
                    Result(
                        "alerts",
                        f"{reps:,} reps, example rules: {label}",
                        ms,
                        "ms",
                        "< 500 ms",
                        ms < 500,
                        f"{ran}/{len(outcome)} rules due, {evaluated:,} subjects, {fired:,} "
                        f"fired, {deliveries} messages; CPU {cpu_ms:,.0f} ms; 1-min load "
                        f"{load:.2f}; SQLite",
                    )
                )
        finally:
            engine.dispose()
    return results
