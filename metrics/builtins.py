"""The built-in metric names a revenue team expects, with their kind, unit and meaning.

The definitions here are the contract `docs/metrics.md` explains; the computation lives in
the metric catalog and rollups. Config may set targets and labels on any of these by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class BuiltinMetric:
    name: str
    label: str
    kind: Literal["input", "output"]
    unit: Literal["count", "currency", "percent", "days", "ratio"]
    description: str


BUILTIN_METRICS: tuple[BuiltinMetric, ...] = (
    BuiltinMetric("calls", "Calls", "input", "count", "Call activities logged, by call time."),
    BuiltinMetric(
        "connected_calls",
        "Connected calls",
        "input",
        "count",
        "Calls whose outcome is 'connected', by call time.",
    ),
    BuiltinMetric("emails", "Emails", "input", "count", "Outbound email activities, by send time."),
    BuiltinMetric(
        "meetings_booked",
        "Meetings booked",
        "input",
        "count",
        "Meetings created, counted on the day they were booked.",
    ),
    BuiltinMetric(
        "meetings_held",
        "Meetings held",
        "input",
        "count",
        "Meetings whose start time has passed and were not cancelled or no-show.",
    ),
    BuiltinMetric(
        "opportunities_created",
        "Opps created",
        "input",
        "count",
        "Deals created, counted on their create date.",
    ),
    BuiltinMetric(
        "pipeline_created",
        "Pipeline created",
        "input",
        "currency",
        "Sum of amounts of deals created, in the reporting currency.",
    ),
    BuiltinMetric("deals_won", "Deals won", "output", "count", "Deals closed won, on close date."),
    BuiltinMetric(
        "deals_lost", "Deals lost", "output", "count", "Deals closed lost, on close date."
    ),
    BuiltinMetric(
        "bookings",
        "Bookings",
        "output",
        "currency",
        "Sum of amounts of deals closed won (new ARR), in the reporting currency.",
    ),
    BuiltinMetric(
        "win_rate",
        "Win rate",
        "output",
        "percent",
        "Deals won ÷ (won + lost) closed in the period: a ratio of sums.",
    ),
    BuiltinMetric(
        "avg_deal_size",
        "Avg deal size",
        "output",
        "currency",
        "Bookings ÷ deals won in the period.",
    ),
    BuiltinMetric(
        "sales_cycle_days",
        "Sales cycle",
        "output",
        "days",
        "Average days from create to close of deals won in the period.",
    ),
    BuiltinMetric(
        "pipeline_coverage",
        "Pipeline coverage",
        "output",
        "ratio",
        "Open pipeline ÷ bookings target remaining in the period.",
    ),
    BuiltinMetric(
        "activity_to_meeting",
        "Activity → meeting",
        "output",
        "percent",
        "Meetings booked ÷ (calls + emails) in the period.",
    ),
    BuiltinMetric(
        "meeting_to_opportunity",
        "Meeting → opp",
        "output",
        "percent",
        "Opportunities created ÷ meetings held in the period.",
    ),
)

BUILTIN_METRIC_NAMES: frozenset[str] = frozenset(m.name for m in BUILTIN_METRICS)


def builtin(name: str) -> BuiltinMetric | None:
    return next((m for m in BUILTIN_METRICS if m.name == name), None)
