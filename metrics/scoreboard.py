"""What a scoreboard says about one person on one day: the data rhythms compose from.

Plain frozen dataclasses, no Slack. The metrics engine fills them (`metrics.scoreboards`);
rhythms turn them into Block Kit. Values are in the metric's unit (currency already in the
reporting currency). `overall_status` is the one rule for a rep's verdict: the DM's dot,
the team board's counts and "Needs help", the org board and the team chart all use it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

Status = Literal["green", "yellow", "red", "none"]


@dataclass(frozen=True)
class MetricStatus:
    """One metric against its target and pace for a period, as of an instant."""

    metric: str
    label: str
    unit: str  # count | currency | percent | days | ratio
    kind: str  # input | output
    value: float
    target: float | None  # for the whole period (None: no target configured, or 0)
    expected_now: float | None  # the part of the target due by `as_of` (pace; whole counts)
    status: Status  # value vs expected_now with the org's bands; "none" without target
    shortfall: float  # how much more is needed to be back on pace (0 when on pace)
    history: tuple[float, ...] = ()  # the last 7 local days, oldest first, for sparklines

    @property
    def pace_ratio(self) -> float | None:
        if self.expected_now is None or self.expected_now <= 0:
            return None
        return self.value / self.expected_now


@dataclass(frozen=True)
class PersonScoreboard:
    person_id: int
    name: str
    email: str
    slack_user_id: str | None
    team_key: str | None
    timezone: str
    day: dt.date  # local day the numbers are for
    as_of: dt.datetime  # aware UTC instant the pace is measured at
    metrics: tuple[MetricStatus, ...]  # input metrics with targets first, in config order
    streak_days: int = 0  # working days in a row at or above every daily target
    team_rank: int | None = None  # 1 = best in team by share of pace; None: not ranked
    team_size: int = 0  # the reps ranked (those with something due), 0 when not ranked
    notes: tuple[str, ...] = field(default=())  # e.g. "Holiday: Thanksgiving Day"

    @property
    def on_pace(self) -> int:
        return sum(1 for m in self.metrics if m.status == "green")

    @property
    def with_target(self) -> int:
        return sum(1 for m in self.metrics if m.status != "none")


def graded(board: PersonScoreboard) -> list[MetricStatus]:
    """The metrics a rep's verdict counts: inputs with a target (else anything with one)."""
    inputs = [m for m in board.metrics if m.kind == "input" and m.status != "none"]
    return inputs or [m for m in board.metrics if m.status != "none"]


_POINTS = {"green": 2, "yellow": 1}


def overall_status(
    board: PersonScoreboard, counted: Sequence[MetricStatus] | None = None
) -> Status:
    """A rep's verdict over their graded metrics (`graded`, or `counted`):

    - **red** ("needs help") when any of them is red — below `org.status_yellow_at` of pace
      with something due, the band the alerts' `turns_red` pages a manager on: 0 of 31 calls
      due is not made up by being on pace for meetings;
    - else **green** when the average is 1.5 points or more (green 2, yellow 1: at least half
      of them green), **yellow** below;
    - "none" with nothing graded.
    """
    counted = graded(board) if counted is None else counted
    if not counted:
        return "none"
    if any(m.status == "red" for m in counted):
        return "red"
    points = sum(_POINTS.get(m.status, 0) for m in counted) / len(counted)
    return "green" if points >= 1.5 else "yellow"
