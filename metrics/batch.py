"""Many subjects at once: one grouped rollup query for a metric over people or teams.

Alerts and team views evaluate a metric for thousands of people per tick; one query per
person would be thousands of round trips. These read `metric_daily` once, grouped by person
(or team), and divide per subject for ratios (ratio of sums, as everywhere).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from metrics.catalog import MetricDef
from metrics.lookup import value_from_sums
from metrics.models import MetricDaily


def _by(
    session: Session,
    column: InstrumentedAttribute[Any],
    keys: Iterable[Any],
    defn: MetricDef,
    start: dt.date,
    end: dt.date,
    person_id: int | None = None,
) -> dict[Any, dict[str, float]]:
    query = (
        select(column, MetricDaily.metric, func.sum(MetricDaily.value))
        .where(MetricDaily.metric.in_(sorted(set(defn.bases))))
        .where(MetricDaily.day >= start, MetricDaily.day <= end)
        .where(column.in_(list(keys)))
        .group_by(column, MetricDaily.metric)
    )
    if person_id is not None:
        query = query.where(MetricDaily.person_id == person_id)
    sums: dict[Any, dict[str, float]] = defaultdict(dict)
    for key, metric, total in session.execute(query):
        sums[key][metric] = float(total or 0.0)
    return sums


def values_by_person(
    session: Session, *, defn: MetricDef, person_ids: list[int], start: dt.date, end: dt.date
) -> dict[int, float | None]:
    """`defn`'s value for each person over local days [start, end]; 0 for no rows."""
    sums = _by(session, MetricDaily.person_id, person_ids, defn, start, end)
    return {pid: value_from_sums(defn, sums.get(pid, {}))[0] for pid in person_ids}


def values_by_team(
    session: Session,
    *,
    defn: MetricDef,
    team_keys: list[str],
    start: dt.date,
    end: dt.date,
    person_id: int | None = None,
) -> dict[str, float | None]:
    """`defn`'s value for each team over local days [start, end]: the rows filed on it
    (everyone on it that day, manager included); with `person_id`, that person's only."""
    sums = _by(session, MetricDaily.team_key, team_keys, defn, start, end, person_id)
    return {key: value_from_sums(defn, sums.get(key, {}))[0] for key in team_keys}


def daily_series_by_person(
    session: Session, *, defn: MetricDef, person_ids: list[int], start: dt.date, end: dt.date
) -> dict[int, list[float]]:
    """Per person, the metric's value for each day in [start, end] (additive metrics)."""
    query = (
        select(MetricDaily.person_id, MetricDaily.day, func.sum(MetricDaily.value))
        .where(MetricDaily.metric.in_(sorted(set(defn.numerator))))
        .where(MetricDaily.day >= start, MetricDaily.day <= end)
        .where(MetricDaily.person_id.in_(person_ids))
        .group_by(MetricDaily.person_id, MetricDaily.day)
    )
    days = (end - start).days + 1
    series = {pid: [0.0] * days for pid in person_ids}
    for pid, day, total in session.execute(query):
        series[pid][(day - start).days] = float(total or 0.0) * defn.scale
    return series
