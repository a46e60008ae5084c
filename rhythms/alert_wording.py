"""What an alert line and its message say, in numbers a leader reads at a glance.

Not "threshold pace 2" but "12 calls of 25 due by now (48%), 13 short — alert below 60%":
the value, what was due, the share, the gap and the rule's own threshold, in the metric's
unit. Each message ends with a next step for its condition, and a recipient brought in by
escalation is told why (how many working days in a row the subject has been red, and after
how many the rule brings in the manager and the CRO).
"""

from __future__ import annotations

import datetime as dt

from metrics.catalog import MetricDef
from rhythms.blocks import fmt_number

RED_DAYS_MAX = 10  # `alert_rules.red_days_for` stops counting there: "10+"

NEXT_STEPS = {
    "below_pace_pct": "check in today on what is in the way, and agree how to close the gap "
    "before the day ends. *Open scoreboard* shows who is behind and by how much.",
    "turns_red": "a short check-in today: what is in the way, and the plan to get back on pace "
    "before the day ends. *Open scoreboard* shows the day so far.",
    "no_activity_by": "check in now. Nothing logged can also mean activity is not reaching the "
    "CRM (logging or sync): worth ruling out first.",
    "drop_vs_trailing_pct": "look for what changed against a usual day (calendars, lead "
    "flow, a paused sequence). *Open scoreboard* shows the day so far.",
    "below": "check in today; *Open scoreboard* shows where things stand.",
    "above": "look at what is driving it; *Open scoreboard* shows where things stand.",
    "coverage_below": "build pipeline: coverage is open pipeline ÷ what is left of the "
    "bookings target. Review the prospecting plan for the coming weeks.",
}


def amount(value: float, defn: MetricDef, currency: str) -> str:
    """A number in the metric's unit: 12, $4.5k, 38%."""
    return fmt_number(value, defn.unit, currency)


def _what(value: float, defn: MetricDef, currency: str) -> str:
    """The number and what it counts: 12 calls, $4.5k pipeline created, 38% win rate."""
    return f"{amount(value, defn, currency)} {defn.label.lower()}"


def pace_line(value: float, pace: float, defn: MetricDef, currency: str, *, alert: str) -> str:
    """Like "12 calls of 25 due by now (48%), 13 short — alert below 60%"."""
    if not defn.higher_is_better:  # lower is better (sales cycle): the target is a ceiling
        return f"{_what(value, defn, currency)} against {amount(pace, defn, currency)} — {alert}"
    share = value / pace if pace else 0.0
    gap = pace - value
    short = f", {amount(gap, defn, currency)} short" if gap > 0 else ""
    return (
        f"{_what(value, defn, currency)} of {amount(pace, defn, currency)} due by now "
        f"({share:.0%}){short} — {alert}"
    )


def value_line(value: float, defn: MetricDef, currency: str, *, alert: str) -> str:
    """Like "9 calls today — alert below 10"."""
    return f"{_what(value, defn, currency)} today — {alert}"


def coverage_line(value: float, threshold: float) -> str:
    return f"pipeline coverage {value:.1f}× — alert below {threshold:g}×"


def none_by_line(defn: MetricDef, by: dt.time) -> str:
    return f"no {defn.label.lower()} logged by {by:%H:%M} (their time) — alert when none by then"


def drop_line(
    value: float, usual: float, defn: MetricDef, currency: str, *, drop: float, days: int
) -> str:
    """ "3 meetings booked so far vs 6.3 by now on an average working day (last 14 days) —
    alert at 30% below"."""
    usual_text = f"{usual:,.1f}" if not float(usual).is_integer() else f"{usual:,.0f}"
    if defn.unit != "count":
        usual_text = amount(usual, defn, currency)
    return (
        f"{_what(value, defn, currency)} so far vs {usual_text} by now on an average working "
        f"day (last {days} days) — alert at {drop:.0%} below"
    )


def red_streak(days: int) -> str:
    """ " · red 7 working days in a row before today"; "" for none."""
    if days <= 0:
        return ""
    count = f"{RED_DAYS_MAX}+" if days >= RED_DAYS_MAX else str(days)
    unit = "working day" if days == 1 else "working days"
    return f" · red {count} {unit} in a row before today"


def _days(days: int) -> str:
    return f"{RED_DAYS_MAX} or more" if days >= RED_DAYS_MAX else str(days)


def escalation_note(names_and_days: list[tuple[str, int]], *, route: str, after: int) -> str:
    """Why a recipient brought in by escalation gets the message: "*Why you get this:* Leo
    Martin ended the last 7 working days red. This rule brings in the manager after 3 red
    days in a row and the CRO after 6: you get it as the CRO."."""
    who = "; ".join(
        f"{name} ended the last {_days(days)} working days red" for name, days in names_and_days
    )
    role = "the CRO" if route == "cro" else "their manager"
    return (
        f"*Why you get this:* {who}. This rule brings in the manager after {after} red days "
        f"in a row and the CRO after {2 * after}: you get it as {role}."
    )


def next_step(condition: str) -> str:
    step = NEXT_STEPS.get(condition)
    return f"*Next step:* {step}" if step else ""
