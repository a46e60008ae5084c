"""A big synthetic org in SQLite, generated with bulk inserts and cached under bench/.cache/.

full: 10,000 reps in 100 teams, 6 months, 5,000,000 activities, ~200,000 deals.
small: 1,000 reps, 6 months, 500,000 activities. Rollups are built (and the full-rebuild time
recorded) when the cache is created.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.common import CACHE
from metrics.config import MetricConfig, MetricsConfig, OrgSettings, TargetSet, TeamConfig

END = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)  # data ends here (a Saturday)
DAYS = 182
ZONES = ("America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London")
# Records are stored in time order, as a CRM sync appends them (it pages by modification
# time): the rows of one day sit together; deal amounts are in cents, nearly all different.
# Caches of another layout are regenerated.
LAYOUT = "time-ordered, amounts in cents"
SIZES = {"full": (10_000, 5_000_000, 20), "small": (1_000, 500_000, 20)}  # reps, acts, deals/rep


@dataclass(frozen=True)
class DemoOrg:
    path: Path
    url: str
    reps: int
    activities: int
    rebuild_seconds: float


def bench_config(reps: int) -> MetricsConfig:
    teams = tuple(TeamConfig(key=f"t{i:03d}", name=f"Team {i}") for i in range(reps // 100))
    metrics = tuple(
        MetricConfig(name=name, targets={"rep": TargetSet(daily=daily)})
        for name, daily in (("calls", 20.0), ("emails", 8.0), ("meetings_booked", 1.0))
    )
    return MetricsConfig(
        org=OrgSettings(name="Bench", timezone="America/New_York"), teams=teams, metrics=metrics
    )


def _stamp(seconds: np.ndarray) -> list[str]:
    """Epoch seconds -> SQLAlchemy's SQLite DateTime text ('YYYY-MM-DD HH:MM:SS.ffffff')."""
    text = np.datetime_as_string(seconds.astype("datetime64[s]").astype("datetime64[us]"))
    return [s.replace("T", " ") for s in text.tolist()]


def demo_org(scale: str, *, with_rollups: bool = True) -> DemoOrg:
    """The cached org for `scale`, generated on first use (minutes for "full")."""
    reps, n_acts, deals_per_rep = SIZES[scale]
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"org-{scale}.db"
    url = f"sqlite:///{path}"
    done = CACHE / f"org-{scale}.generated"
    from bot import db

    if done.exists() and done.read_text() == LAYOUT:
        db.upgrade(url)  # a cache made before a migration gets it (a no-op when current)
    else:
        for stale in CACHE.glob(f"org-{scale}.*"):
            stale.unlink()
        db.upgrade(url)
        print(
            f"first run: generating the {scale} org into {CACHE} ({reps:,} reps, {n_acts:,} "
            "activities; about 1 minute at full size, then a timed rollup rebuild of 1-2 "
            "minutes); later runs reuse it",
            file=sys.stderr,
            flush=True,
        )
        _generate(path, reps, n_acts, deals_per_rep)
        done.write_text(LAYOUT)
    meta = CACHE / f"org-{scale}.json"
    seconds = float("nan")
    if meta.exists():
        seconds = json.loads(meta.read_text())["rebuild_seconds"]
    elif with_rollups:
        print("building rollups (timed full rebuild) ...", file=sys.stderr)
        seconds = _build_rollups(url, reps)
        meta.write_text(json.dumps({"rebuild_seconds": seconds}))
    return DemoOrg(path, url, reps, n_acts, seconds)


def _generate(path: Path, reps: int, n_acts: int, deals_per_rep: int) -> None:
    rng = np.random.default_rng(7)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    teams = reps // 100
    con.executemany(
        "INSERT INTO teams (key, name, function) VALUES (?, ?, 'sdr')",
        [(f"t{i:03d}", f"Team {i}") for i in range(teams)],
    )
    con.executemany(
        "INSERT INTO people (id, email, name, role, team_key, timezone_override, active) "
        "VALUES (?, ?, ?, 'rep', ?, ?, 1)",
        [
            (i, f"rep{i}@bench.test", f"Rep {i}", f"t{(i - 1) // 100:03d}", ZONES[i % 4])
            for i in range(1, reps + 1)
        ],
    )
    con.executemany(
        "INSERT INTO team_memberships (person_id, team_key, valid_from) "
        "VALUES (?, ?, '1970-01-01')",
        [(i, f"t{(i - 1) // 100:03d}") for i in range(1, reps + 1)],
    )
    con.executemany(
        "INSERT INTO crm_users (id, source, external_id, email, active, person_id) "
        "VALUES (?, 'demo', ?, ?, 1, ?)",
        [(i, f"u{i}", f"rep{i}@bench.test", i) for i in range(1, reps + 1)],
    )
    # Secondary indexes are built once after the bulk load (much faster than maintaining them
    # row by row); the unique (source, external_id) constraint stays.
    indexes = con.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        "AND tbl_name IN ('activities', 'deals')"
    ).fetchall()
    for name, _sql in indexes:
        con.execute(f'DROP INDEX "{name}"')
    end = int(END.timestamp())
    start = end - DAYS * 86400
    chunk = 1_000_000
    times = np.sort(rng.integers(start, end, n_acts))
    for offset in range(0, n_acts, chunk):
        n = min(chunk, n_acts - offset)
        owners = rng.integers(1, reps + 1, n)
        when = times[offset : offset + n]
        roll = rng.random(n)
        kinds = np.where(roll < 0.6, "call", np.where(roll < 0.9, "email", "meeting"))
        booked = when - rng.integers(3600, 14 * 86400, n)
        outcome_roll = rng.random(n)
        occurred_s, booked_s = _stamp(when), _stamp(booked)
        kind_list = kinds.tolist()
        outcomes = np.where(
            kinds == "call",
            np.where(outcome_roll < 0.25, "connected", "no_answer"),
            np.where(kinds == "meeting", np.where(outcome_roll < 0.8, "completed", "no_show"), ""),
        ).tolist()
        rows = list(
            zip(
                range(offset + 1, offset + n + 1),
                [f"a{i}" for i in range(offset, offset + n)],
                kind_list,
                owners.tolist(),
                occurred_s,
                [b if k == "meeting" else None for k, b in zip(kind_list, booked_s, strict=True)],
                [o or None for o in outcomes],
                occurred_s,
                strict=True,
            )
        )
        con.executemany(
            "INSERT INTO activities (id, source, external_id, kind, owner_id, occurred_at, "
            "booked_at, outcome, modified_at, deleted) VALUES (?, 'demo', ?, ?, ?, ?, ?, ?, ?, 0)",
            rows,
        )
        con.commit()
        print(f"  {offset + n:,} / {n_acts:,} activities", file=sys.stderr, flush=True)
    n_deals = reps * deals_per_rep
    owners = rng.integers(1, reps + 1, n_deals)
    created = np.sort(rng.integers(start, end, n_deals))
    closed = created + rng.integers(5 * 86400, 90 * 86400, n_deals)
    is_closed = closed < end
    won = is_closed & (rng.random(n_deals) < 0.3)
    amounts = rng.integers(50_000, 10_000_000, n_deals) / 100  # $500.00-$99,999.99
    created_s, closed_s = _stamp(created), _stamp(closed)
    con.executemany(
        "INSERT INTO deals (id, source, external_id, owner_id, amount, currency, created_at, "
        "closed_at, is_closed, is_won, modified_at, deleted) "
        "VALUES (?, 'demo', ?, ?, ?, 'USD', ?, ?, ?, ?, ?, 0)",
        [
            (
                i + 1,
                f"d{i}",
                int(owners[i]),
                float(amounts[i]),
                created_s[i],
                closed_s[i] if is_closed[i] else None,
                int(is_closed[i]),
                int(won[i]),
                created_s[i],
            )
            for i in range(n_deals)
        ],
    )
    con.commit()
    print("  indexing ...", file=sys.stderr, flush=True)
    for _name, sql in indexes:
        con.execute(sql)
    con.commit()
    con.execute("ANALYZE")
    con.close()


def _build_rollups(url: str, reps: int) -> float:
    from metrics.rollups import rebuild_rollups
    from metrics.store import make_engine, make_session_factory

    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            began = time.perf_counter()
            rebuild_rollups(session, config=bench_config(reps))
            session.commit()
            return time.perf_counter() - began
    finally:
        engine.dispose()
