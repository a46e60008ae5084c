"""Shared benchmark plumbing: the scenario registry, results, timing and the context."""

from __future__ import annotations

import importlib
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The generated orgs (GBs at full size); BENCH_CACHE moves them (e.g. a fresh first run).
CACHE = Path(os.environ.get("BENCH_CACHE") or Path(__file__).resolve().parent / ".cache")

# The registry: scenario name -> module. Adding a scenario is one line here.
SCENARIOS: dict[str, str] = {
    "crm_sync": "bench.crm_sync",
    "metric_lookup": "bench.metric_lookup",
    "rollup_refresh": "bench.rollup_refresh",
    "slack_bot": "bench.slack_bot",
    "alerts": "bench.alerts",
    "charts": "bench.charts",
    "refresh_floor": "bench.refresh_floor",
}

# Scenarios that can run on PostgreSQL as well (`--engine postgresql`); the rest are SQLite.
ENGINES: dict[str, tuple[str, ...]] = {"rollup_refresh": ("sqlite", "postgresql")}


@dataclass(frozen=True)
class Result:
    scenario: str
    measure: str
    value: float
    unit: str  # "ms", "s", "rows/s"...
    target: str = ""  # e.g. "< 1 ms p99"
    ok: bool | None = None  # against the target, when there is one
    note: str = ""


@dataclass
class Context:
    scale: str = "full"  # "full" = the sizes; "small" for a quick look
    engine: str = "sqlite"  # or "postgresql" for the scenarios in ENGINES
    extra: dict[str, Any] = field(default_factory=dict)


def timed(fn: Callable[[], Any], *, repeat: int, warmup: int = 3) -> list[float]:
    """Wall-clock seconds of `repeat` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def timed_cpu(fn: Callable[[], Any], *, repeat: int, warmup: int = 3) -> list[float]:
    """CPU seconds of this process per call: steadier than wall time on a busy machine."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        samples.append(time.process_time() - start)
    return samples


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def load(name: str) -> Callable[[Context], list[Result]]:
    module = importlib.import_module(SCENARIOS[name])
    run: Callable[[Context], list[Result]] = module.run
    return run


def table(results: list[Result]) -> str:
    rows = [("scenario", "measure", "value", "target", "ok", "note")]
    for r in results:
        ok = "" if r.ok is None else ("yes" if r.ok else "NO")
        rows.append((r.scenario, r.measure, f"{r.value:,.3f} {r.unit}", r.target, ok, r.note))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(results: list[Result]) -> str:
    lines = ["| scenario | measure | value | target | ok | note |", "|---|---|---|---|---|---|"]
    for r in results:
        ok = "" if r.ok is None else ("yes" if r.ok else "**NO**")
        cells = (r.scenario, r.measure, f"{r.value:,.3g} {r.unit}", r.target, ok, r.note)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)
