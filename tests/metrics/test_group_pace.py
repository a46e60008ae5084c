"""`metrics.group_pace`: a group's pace is each person's pace in their own zone, summed."""

from __future__ import annotations

import datetime as dt

import pytest

from metrics.calendar import WorkCalendar
from metrics.config import MetricConfig, TargetSet
from metrics.group_pace import GroupPace, group_pace
from metrics.lookup import TargetRun, catalog_for
from tests.metrics.builders import config

CFG = config(
    metrics=(
        MetricConfig(name="calls", targets={"sdr": TargetSet(daily=50)}),
        MetricConfig(name="win_rate", targets={"sdr": TargetSet(daily=0.25)}),
    )
)
WORK = WorkCalendar(CFG.calendar)
DAY = dt.date(2026, 11, 18)  # a Wednesday
NOW = dt.datetime(2026, 11, 18, 21, 0, tzinfo=dt.UTC)  # 16:00 New York, 13:00 Los Angeles


def _run(email: str, zone: str, first: dt.date = DAY, last: dt.date = DAY) -> TargetRun:
    return TargetRun(email, "rep", "sdr", zone, first, last)


def test_each_person_is_paced_in_their_own_zone() -> None:
    calls = catalog_for(CFG).get("calls")
    west = [_run("a@x.test", "America/Los_Angeles"), _run("b@x.test", "America/Los_Angeles")]
    # 13:00 in Los Angeles: 4/9 of each 50 = 22.2 → 22; not 7/9 of 100 (New York's 16:00)
    assert group_pace(CFG, WORK, calls, west, now=NOW) == GroupPace(100, 44)
    east = _run("c@x.test", "America/New_York")
    assert group_pace(CFG, WORK, calls, [*west, east], now=NOW) == GroupPace(150, 44 + 38)
    # a run that ended (a rep who moved on Monday): its days are due in full
    moved = _run("d@x.test", "America/New_York", DAY - dt.timedelta(days=2), DAY - dt.timedelta(1))
    assert group_pace(CFG, WORK, calls, [east, moved], now=NOW) == GroupPace(150, 38 + 100)


def test_ratios_are_levels_and_no_target_is_none() -> None:
    win_rate = catalog_for(CFG).get("win_rate")
    runs = [_run("a@x.test", "America/Los_Angeles"), _run("b@x.test", "Europe/Berlin")]
    assert group_pace(CFG, WORK, win_rate, runs, now=NOW) == GroupPace(0.25, 0.25)
    emails = catalog_for(CFG).get("emails")  # no target for anyone here
    assert group_pace(CFG, WORK, emails, runs, now=NOW) == GroupPace(None, None)
    with pytest.raises(ValueError, match="aware"):
        group_pace(CFG, WORK, emails, runs, now=NOW.replace(tzinfo=None))
