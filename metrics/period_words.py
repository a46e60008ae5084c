"""Period words people type, on top of `metrics.lookup.resolve_period`'s.

    q3, q3 2025, qtd, last quarter   calendar quarters (Q1 = Jan–Mar)
    ytd, this year, last year        calendar years
    november, nov, nov 2025          a month
    past week                        the 7 days ending today (as "last 7 days")

and everything `metrics.lookup.resolve_period` reads (today, yesterday, this/last week,
this/last month, this quarter, last 30d / last 7 days / past 2 weeks, YYYY-MM-DD,
YYYY-MM-DD..YYYY-MM-DD). Days are local days in the zone given; "today" is that zone's date.

- A quarter or month without a year is the most recent one that has started: `nov` on
  2026-02-10 is November 2025, `q3` is Q3 2025. The current one (with or without its year)
  *is* `this quarter` / `this month`: to date, judged against the whole period's target.
  Others are whole: `q3 2026` is Jul 1–Sep 30 2026, `last quarter` the whole previous one.
- `ytd` and `this year`: Jan 1 to today; `last year`: Jan 1–Dec 31 of the previous year.
- Quarters are calendar quarters: the org config has no fiscal year.

A range is checked as `resolve_period` checks one (length, first and last day). Words that
name no period raise `UnknownPeriod`, whose message quotes at most `ECHO_MAX` characters of
them and lists what works.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from zoneinfo import ZoneInfo

from metrics.lookup import Period
from metrics.lookup import resolve_period as resolve_basic_period

ECHO_MAX = 60  # characters of someone's input an error message quotes
PERIOD_CHARS_MAX = 64  # "2026-11-01 to 2026-11-15" is 24
EXAMPLES = (
    "today, yesterday, this week, last week, past week, last 7 days, last 30 days, "
    "this month, last month, november, nov 2025, this quarter, last quarter, q3, q3 2025, "
    "ytd, this year, last year, 2026-11-01 or 2026-11-01..2026-11-15"
)
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH_WORDS = {name: i for i, name in enumerate(MONTHS, 1)} | {
    name[:3]: i for i, name in enumerate(MONTHS, 1)
}
_MONTH_WORDS["sept"] = 9
_QUARTER = re.compile(r"^q([1-4])(?:\s+(\d{4}))?$", re.ASCII)
_MONTH = re.compile(r"^([a-z]+)(?:\s+(\d{4}))?$", re.ASCII)
_DAY = r"\d{4}-\d{1,2}-\d{1,2}"
_DAYS_SHAPED = re.compile(rf"^{_DAY}(?:\s*(?:\.\.|to|–|-\s)\s*{_DAY})?$", re.ASCII)
_ANY_NOW = dt.datetime(2000, 6, 15, 12, 0, tzinfo=dt.UTC)  # is_period: words, not dates


class UnknownPeriod(ValueError):
    """Words that name no period; the message says what works."""


def clip(text: str, limit: int = ECHO_MAX) -> str:
    """`text` cut to `limit` characters, ending with "…" when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unknown_period(text: str) -> str:
    """The message for words that name no period: them (clipped) and examples that work."""
    return f"unknown period {clip(text)!r}: try {EXAMPLES}"


def resolve_period(text: str, *, now: dt.datetime, timezone: str) -> Period:
    """The local days `text` names at instant `now` in `timezone` (see the module doc).
    Raises `UnknownPeriod` for words that name no period and ValueError, with a message
    for the person who typed it, for a period that cannot be used."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    words = " ".join(text.lower().replace("_", " ").split())
    named = _named(words, today)
    if isinstance(named, str):  # a word `resolve_basic_period` knows ("this quarter")
        return resolve_basic_period(named, now=now, timezone=timezone)
    if named is not None:
        start, end, label = named
        checked = resolve_basic_period(f"{start}..{end}", now=now, timezone=timezone)
        return Period(checked.start, checked.end, label)
    try:
        return resolve_basic_period(words, now=now, timezone=timezone)
    except ValueError as exc:
        if not str(exc).startswith("unknown period"):
            raise
    if _DAYS_SHAPED.match(words):
        raise ValueError(
            f"{clip(words)!r} is not a day I can read: write YYYY-MM-DD, e.g. 2026-11-01"
        )
    raise UnknownPeriod(unknown_period(text))


def is_period(text: str) -> bool:
    """Whether `text` is written as a period (which days it is depends on when and where;
    whether they can be used is `resolve_period`'s to say). No period takes more than
    `PERIOD_CHARS_MAX` characters."""
    return len(text) <= PERIOD_CHARS_MAX and _is_period(text)


@functools.lru_cache(maxsize=4096)  # the same few words, over and over
def _is_period(text: str) -> bool:
    try:
        resolve_period(text, now=_ANY_NOW, timezone="UTC")
    except UnknownPeriod:
        return False
    except ValueError:
        return True
    return True


def _named(words: str, today: dt.date) -> tuple[dt.date, dt.date, str] | str | None:
    """(first day, last day, label) of a quarter, year, month or "past week", or the words
    `resolve_basic_period` reads for the same days ("this quarter"); None for other words."""
    if words in ("qtd", "quarter to date"):
        return "this quarter"
    if words == "past week":
        return "last 7 days"
    if words in ("ytd", "year to date", "this year"):
        return dt.date(today.year, 1, 1), today, "this year"
    if words == "last year":
        year = _year(today.year - 1)
        return dt.date(year, 1, 1), dt.date(year, 12, 31), "last year"
    if words == "last quarter":
        start = _quarter_start(today) - dt.timedelta(days=1)
        return _quarter(start.year, (start.month - 1) // 3 + 1, today, label="last quarter")
    quarter = _QUARTER.match(words)
    if quarter:
        number = int(quarter.group(1))
        year = _year(int(quarter.group(2))) if quarter.group(2) else today.year
        if quarter.group(2) is None and dt.date(year, 3 * number - 2, 1) > today:
            year = _year(year - 1)  # the most recent Q3 that has started
        return _quarter(year, number, today)
    month = _MONTH.match(words)
    if month and month.group(1) in _MONTH_WORDS:
        number = _MONTH_WORDS[month.group(1)]
        year = _year(int(month.group(2))) if month.group(2) else today.year
        if month.group(2) is None and dt.date(year, number, 1) > today:
            year = _year(year - 1)  # the most recent November that has started
        if (year, number) == (today.year, today.month):
            return "this month"
        first = dt.date(year, number, 1)
        return first, _month_end(first), f"{MONTHS[number - 1].title()} {year}"
    return None


def _quarter(
    year: int, number: int, today: dt.date, *, label: str = ""
) -> tuple[dt.date, dt.date, str] | str:
    first = dt.date(year, 3 * number - 2, 1)
    if first == _quarter_start(today):
        return "this quarter"
    last = _month_end(dt.date(year, 3 * number, 1))
    return first, last, label or f"Q{number} {year}"


def _quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def _month_end(first: dt.date) -> dt.date:
    if first.month == 12:
        return dt.date(first.year, 12, 31)
    return dt.date(first.year, first.month + 1, 1) - dt.timedelta(days=1)


def _year(year: int) -> int:
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise ValueError(f"{year:04d} is not a year I can count in (0001–9999)")
    return year
