from __future__ import annotations

import datetime as dt

import pytest

from metrics.calendar import WorkCalendar
from metrics.config import CalendarConfig

US = WorkCalendar(CalendarConfig(country="US", extra_holidays=(dt.date(2026, 12, 24),)))


@pytest.mark.parametrize(
    ("day", "working", "holiday"),
    [
        (dt.date(2026, 11, 23), True, None),  # Monday
        (dt.date(2026, 11, 26), False, "Thanksgiving Day"),
        (dt.date(2026, 11, 28), False, None),  # Saturday
        (dt.date(2026, 12, 24), False, "Company holiday"),
    ],
)
def test_working_days_and_holidays(day: dt.date, working: bool, holiday: str | None) -> None:
    assert US.is_working_day(day) is working
    assert US.holiday_name(day) == holiday


def test_pace_fraction_over_working_hours() -> None:
    assert US.day_fraction_elapsed(dt.datetime(2026, 11, 23, 14, 0)) == pytest.approx(5 / 9)
    assert US.day_fraction_elapsed(dt.datetime(2026, 11, 23, 8, 0)) == 0.0
    assert US.day_fraction_elapsed(dt.datetime(2026, 11, 23, 19, 0)) == 1.0
    assert US.day_fraction_elapsed(dt.datetime(2026, 11, 26, 14, 0)) == 0.0  # holiday


def test_week_fraction_skips_holiday() -> None:
    # Thanksgiving week has 4 working days; Tuesday 13:30 = 1 day + 0.5 of 4.
    fraction = US.period_fraction_elapsed(
        dt.date(2026, 11, 23), dt.date(2026, 11, 29), dt.datetime(2026, 11, 24, 13, 30)
    )
    assert fraction == pytest.approx(1.5 / 4)
    assert US.previous_working_day(dt.date(2026, 11, 27)) == dt.date(2026, 11, 25)


def test_custom_working_week() -> None:
    sun_thu = WorkCalendar(CalendarConfig(working_days=("sun", "mon", "tue", "wed", "thu")))
    assert sun_thu.is_working_day(dt.date(2026, 11, 22))  # Sunday
    assert not sun_thu.is_working_day(dt.date(2026, 11, 27))  # Friday
    # Fri Nov 27 - Sun Nov 29: only the Sunday is a working weekday here
    assert sun_thu.normal_working_days(dt.date(2026, 11, 27), dt.date(2026, 11, 29)) == 1


def test_normal_working_days_count_holidays_as_working() -> None:
    """What weekly/monthly targets are for: the working weekdays, holidays included."""
    week = (dt.date(2026, 11, 23), dt.date(2026, 11, 29))  # Thanksgiving week
    assert len(US.working_days(*week)) == 4
    assert US.normal_working_days(*week) == 5
    # November 2026: 21 weekdays; Veterans Day and Thanksgiving off leave 19
    november = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert (US.normal_working_days(*november), len(US.working_days(*november))) == (21, 19)
    assert US.normal_working_days(dt.date(2026, 11, 28), dt.date(2026, 11, 29)) == 0  # weekend
    assert US.normal_working_days(dt.date(2026, 11, 30), dt.date(2026, 11, 29)) == 0  # empty


def test_offset_clock_moves_forward_only() -> None:
    from metrics.clock import OffsetClock, TravellingClock

    base = TravellingClock(dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC))
    clock = OffsetClock(base)
    assert clock.now() == base.now()
    clock.jump_to(dt.datetime(2026, 11, 27, 19, tzinfo=dt.UTC))
    base.advance(dt.timedelta(minutes=5))
    assert clock.now() == dt.datetime(2026, 11, 27, 19, 5, tzinfo=dt.UTC)
    clock.jump_to(dt.datetime(2026, 11, 1, tzinfo=dt.UTC))  # the past: no change
    assert clock.now() == dt.datetime(2026, 11, 27, 19, 5, tzinfo=dt.UTC)
    with pytest.raises(ValueError):
        clock.advance(dt.timedelta(minutes=-1))
