"""Rhythm schedules: standard 5-field cron read as cron reads it, as APScheduler triggers.

APScheduler 3's `CronTrigger.from_crontab` numbers weekdays from 0 = Monday, where cron
numbers them from 0 = Sunday (and 7 is Sunday too): ``30 17 * * 1-5`` would fire Tuesday to
Saturday, and ``7`` would be refused. `cron_trigger` reads a numeric weekday field as cron
does (values, ranges, lists and steps: ``1-5``, ``0,6``, ``1-5/2``, ``*/2``) and hands
APScheduler weekday names; fields without digits (``mon-fri``, ``*``) pass through as they are.

Unlike classic cron (which fires when either matches), a restricted day of month *and*
weekday must both match: ``0 9 1-7 * mon`` is the first Monday of the month.
"""

from __future__ import annotations

import datetime as dt
import re

from apscheduler.triggers.cron import CronTrigger

CRON_FIELDS = 5
# A schedule with no firing within this long is a mistake (Feb 30, or Feb 29 on a Monday).
NEVER_FIRES_WITHIN = dt.timedelta(days=5 * 366)
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # index: cron's number
_APS_ORDER = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_VALUE = r"(\d+|[a-z]{3})"
_TOKEN = re.compile(rf"^(?:(\*)|{_VALUE}(?:-{_VALUE})?)(?:/(\d+))?$", re.ASCII)


def cron_trigger(expr: str, timezone: dt.tzinfo = dt.UTC) -> CronTrigger:
    """The trigger for a 'minute hour day month weekday' cron; ValueError if malformed."""
    fields = expr.split()
    if len(fields) != CRON_FIELDS:
        raise ValueError(
            f"cron needs 5 fields 'minute hour day month weekday', got {len(fields)} in {expr!r}"
        )
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=apscheduler_weekdays(weekday),
        timezone=timezone,
    )


def check_fires(expr: str, now: dt.datetime) -> None:
    """ValueError unless the cron is valid and fires within `NEVER_FIRES_WITHIN` of `now`."""
    fire = cron_trigger(expr).get_next_fire_time(None, now)
    if fire is None or fire - now > NEVER_FIRES_WITHIN:
        raise ValueError("it never fires (no matching date in the next 5 years)")


def apscheduler_weekdays(field: str) -> str:
    """A cron weekday field (0 and 7 = Sunday, 1 = Monday ... 6 = Saturday) in APScheduler's
    terms: a list of weekday names. Fields without digits are returned unchanged."""
    if not re.search(r"\d", field):
        return field
    days: set[int] = set()
    for token in field.lower().split(","):
        days |= _token_days(token)
    return ",".join(name for name in _APS_ORDER if _CRON_DAYS.index(name) in days)


def _token_days(token: str) -> set[int]:
    """Cron day numbers (0 = Sunday) of one list item: '*', 'N', 'N-M', with '/step'."""
    match = _TOKEN.match(token)
    if match is None:
        raise ValueError(
            f"weekday {token!r}: use numbers 0-7 (0 and 7 are Sunday), names like mon-fri, "
            "ranges, lists and steps like 1-5/2"
        )
    star, first, last, step = match.groups()
    if star:
        low, high = 0, 6
    else:
        low = _day_number(first)
        high = _day_number(last) if last is not None else low
        if step is not None and last is None:
            raise ValueError(f"weekday {token!r}: a step needs a range or '*', e.g. 1-5/2")
    if low > high:
        raise ValueError(f"weekday {token!r}: a range must go upwards, e.g. 1-5")
    every = int(step) if step is not None else 1
    if every < 1:
        raise ValueError(f"weekday {token!r}: the step must be at least 1")
    return {day % 7 for day in range(low, high + 1, every)}


def _day_number(value: str) -> int:
    if value.isdigit():
        number = int(value)
        if number > 7:
            raise ValueError(f"weekday {value}: use 0-7 (0 and 7 are Sunday)")
        return number
    if value not in _CRON_DAYS:
        raise ValueError(f"unknown weekday {value!r}")
    return _CRON_DAYS.index(value)
