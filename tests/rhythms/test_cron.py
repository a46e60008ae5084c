"""Cron weekday numbers mean what they mean in cron (0 and 7 = Sunday), through the real
APScheduler trigger the scheduler uses; schedules that never fire are config errors."""

from __future__ import annotations

import datetime as dt

import pytest

from rhythms.config import RhythmConfig
from rhythms.cron import apscheduler_weekdays, check_fires
from rhythms.schedule import firings

SUNDAY = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)  # a Sunday


def _weekdays(cron_weekday: str, days: int = 7) -> list[str]:
    """Weekday names of each firing of '30 17 * * WEEKDAY' in the week after SUNDAY noon."""
    found = firings(
        "r", f"30 17 * * {cron_weekday}", "UTC", SUNDAY, SUNDAY + dt.timedelta(days=days)
    )
    return [f.local.strftime("%a") for f in found]


def test_numeric_weekdays_are_crons_monday_to_friday() -> None:
    assert SUNDAY.strftime("%a") == "Sun"
    assert _weekdays("1-5") == ["Mon", "Tue", "Wed", "Thu", "Fri"]
    assert _weekdays("mon-fri") == ["Mon", "Tue", "Wed", "Thu", "Fri"]


@pytest.mark.parametrize(
    ("field", "days"),
    [
        ("0", ["Sun"]),
        ("7", ["Sun"]),
        ("6", ["Sat"]),
        ("0,6", ["Sat", "Sun"]),
        ("5-7", ["Fri", "Sat", "Sun"]),
        ("1-5/2", ["Mon", "Wed", "Fri"]),
        ("*/2", ["Tue", "Thu", "Sat", "Sun"]),
        ("1,sat", ["Mon", "Sat"]),
    ],
)
def test_weekday_lists_ranges_and_steps(field: str, days: list[str]) -> None:
    # The window holds each weekday's 17:30 once: Sunday's first, Saturday's last.
    assert sorted(_weekdays(field)) == sorted(days)


def test_names_pass_through_unchanged() -> None:
    assert apscheduler_weekdays("mon-fri") == "mon-fri"
    assert apscheduler_weekdays("*") == "*"
    assert apscheduler_weekdays("1-5") == "mon,tue,wed,thu,fri"


@pytest.mark.parametrize("field", ["8", "5-1", "1/2", "1-5/0", "x-3", "1-5-6"])
def test_bad_weekday_fields_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match="weekday"):
        apscheduler_weekdays(field)


def test_config_accepts_cron_sunday_numbers_and_refuses_schedules_that_never_fire() -> None:
    assert RhythmConfig.model_validate({"schedule": "0 9 * * 7"}).schedule == "0 9 * * 7"
    with pytest.raises(ValueError, match="never fires"):
        RhythmConfig.model_validate({"schedule": "30 17 30 2 *"})
    with pytest.raises(ValueError, match="0 and 7 are Sunday"):
        RhythmConfig.model_validate({"schedule": "0 9 * * 8"})


def test_rare_but_possible_schedules_fire() -> None:
    check_fires("0 9 29 2 *", SUNDAY)  # leap days: within 5 years
    with pytest.raises(ValueError, match="never fires"):
        check_fires("0 9 31 4 *", SUNDAY)  # April has 30 days
