"""Driver analysis: which input metrics best predict an output metric.

Samples are rep-weeks (ISO weeks of local days) from rollups. Each input is fitted alone by
least squares (output = a + b × input) and ranked by R²; a joint fit of all inputs gives the
combined R². The numbers are shown honestly: R², sample size and a warning when the sample is
small or the fit weak. Correlation, not causation.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.config import MetricsConfig
from metrics.lookup import Scope, catalog_for, value_from_sums
from metrics.models import MetricDaily

MIN_SAMPLES = 20
WEAK_R2 = 0.1


@dataclass(frozen=True)
class Driver:
    metric: str
    slope: float  # output units per one more input unit
    intercept: float
    r2: float
    n: int


@dataclass(frozen=True)
class DriverAnalysis:
    output: str
    drivers: tuple[Driver, ...]  # best predictor first
    samples: int
    combined_r2: float | None
    warnings: tuple[str, ...]


def fit_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(slope, intercept, R²) of y = a + b·x by least squares; R² = 0 for constant data."""
    design = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(coef[1]), float(coef[0]), _r2(design, coef, y)


def _r2(design: np.ndarray, coef: np.ndarray, y: np.ndarray) -> float:
    total = float(((y - y.mean()) ** 2).sum())
    if total == 0:
        return 0.0
    residual = float(((y - design @ coef) ** 2).sum())
    return max(0.0, 1.0 - residual / total)


def rank_drivers(output: str, y: np.ndarray, inputs: dict[str, np.ndarray]) -> DriverAnalysis:
    """Rank inputs by single-variable R² against `y` (pure; tested by hand)."""
    n = len(y)
    drivers = []
    for name, x in inputs.items():
        if n >= 2 and float(np.ptp(x)) > 0:
            slope, intercept, r2 = fit_line(x, y)
            drivers.append(Driver(name, slope, intercept, r2, n))
    drivers.sort(key=lambda d: -d.r2)
    combined = None
    if inputs and n > len(inputs) + 1:
        design = np.column_stack([np.ones(n), *inputs.values()])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        combined = _r2(design, coef, y)
    warnings = []
    if n < MIN_SAMPLES:
        warnings.append(f"only {n} rep-weeks: too few to trust, treat as a hint")
    if drivers and drivers[0].r2 < WEAK_R2:
        warnings.append("no input explains much of the output (best R² below 0.1)")
    return DriverAnalysis(output, tuple(drivers), n, combined, tuple(warnings))


def driver_analysis(
    session: Session,
    *,
    config: MetricsConfig,
    output: str,
    start: dt.date,
    end: dt.date,
    inputs: list[str] | None = None,
    scope: Scope | None = None,
) -> DriverAnalysis:
    """Rank input metrics (default: every input metric) as predictors of `output`, per rep
    per ISO week over [start, end]."""
    catalog = catalog_for(config)
    out_def = catalog.get(output)
    names = inputs or [
        d.name for d in catalog.metrics.values() if d.kind == "input" and d.special is None
    ]
    in_defs = [catalog.get(n) for n in names if n != output]
    bases = sorted({b for d in [out_def, *in_defs] for b in d.bases})
    query = select(
        MetricDaily.person_id, MetricDaily.day, MetricDaily.metric, MetricDaily.value
    ).where(MetricDaily.metric.in_(bases), MetricDaily.day >= start, MetricDaily.day <= end)
    if scope is not None and scope.kind == "person":
        query = query.where(MetricDaily.person_id == scope.key)
    elif scope is not None and scope.kind == "team":
        query = query.where(MetricDaily.team_key == scope.key)
    weeks: dict[tuple[int, int, int], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for person_id, day, metric, value in session.execute(query):
        year, week, _ = day.isocalendar()
        weeks[(person_id, year, week)][metric] += value
    rows = [(value_from_sums(out_def, s)[0], s) for s in weeks.values()]
    rows = [(y, s) for y, s in rows if y is not None]
    y = np.array([r[0] for r in rows], dtype=float)
    columns = {
        d.name: np.array([value_from_sums(d, s)[0] or 0.0 for _, s in rows], dtype=float)
        for d in in_defs
    }
    return rank_drivers(output, y, columns)
