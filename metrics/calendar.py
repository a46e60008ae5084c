"""Working days, holidays and working hours: what "a working day" and "on pace" mean.

Built from `[calendar]` in the org config. Public holidays come from the `holidays` package by
country (and subdivision); `extra_holidays` adds company days off. Pace is linear over the
working hours of a working day: at 14:00 on a 09:00-18:00 day, 5/9 ≈ 55.6% of the day is done.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property

import holidays

from metrics.config import WEEKDAYS, CalendarConfig


class WorkCalendar:
    def __init__(self, config: CalendarConfig) -> None:
        self.config = config
        self._weekdays = frozenset(WEEKDAYS.index(day) for day in config.working_days)
        self._extra = frozenset(config.extra_holidays)

    @cached_property
    def _public(self) -> holidays.HolidayBase | None:
        if self.config.country is None:
            return None
        return holidays.country_holidays(self.config.country, subdiv=self.config.subdivision)

    def holiday_name(self, day: dt.date) -> str | None:
        if day in self._extra:
            return "Company holiday"
        if self._public is not None:
            name = self._public.get(day)
            if name:
                return str(name)
        return None

    def is_working_day(self, day: dt.date) -> bool:
        return day.weekday() in self._weekdays and self.holiday_name(day) is None

    def working_days(self, start: dt.date, end: dt.date) -> list[dt.date]:
        """Working days in [start, end] inclusive."""
        days: list[dt.date] = []
        day = start
        while day <= end:
            if self.is_working_day(day):
                days.append(day)
            day += dt.timedelta(days=1)
        return days

    def normal_working_days(self, start: dt.date, end: dt.date) -> int:
        """Days in [start, end] inclusive on a working weekday, holidays counted as working:
        what a week or month has without holidays (weekly/monthly targets are for that)."""
        if end < start:
            return 0
        days = (end - start).days + 1
        whole, rest = divmod(days, 7)
        first = start.weekday()
        return whole * len(self._weekdays) + sum(
            1 for i in range(rest) if (first + i) % 7 in self._weekdays
        )

    def previous_working_day(self, day: dt.date) -> dt.date:
        day -= dt.timedelta(days=1)
        for _ in range(366):
            if self.is_working_day(day):
                return day
            day -= dt.timedelta(days=1)
        raise ValueError("no working day in the previous year: check [calendar]")

    def day_fraction_elapsed(self, local: dt.datetime) -> float:
        """Share of the working hours of `local`'s day that have passed (0.0-1.0).

        0 on a non-working day, before the start of the working day; 1 after its end.
        """
        if not self.is_working_day(local.date()):
            return 0.0
        start = dt.datetime.combine(local.date(), self.config.workday_start)
        end = dt.datetime.combine(local.date(), self.config.workday_end)
        now = local.replace(tzinfo=None)
        if now <= start:
            return 0.0
        if now >= end:
            return 1.0
        return (now - start) / (end - start)

    def period_fraction_elapsed(self, start: dt.date, end: dt.date, local: dt.datetime) -> float:
        """Share of the working time of [start, end] elapsed at `local` (for weekly/monthly
        pace): whole working days before today count 1, today counts its elapsed fraction."""
        days = self.working_days(start, end)
        if not days:
            return 0.0
        today = local.date()
        done: float = sum(1 for day in days if day < today)
        if today in days:
            done += self.day_fraction_elapsed(local)
        return min(1.0, done / len(days))
