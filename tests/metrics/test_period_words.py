"""The period words people type beyond `resolve_period`'s: quarters, years, months, past
week. Every expected date is worked out by hand from the instant and zone given."""

from __future__ import annotations

import datetime as dt

import pytest

from metrics.period_words import EXAMPLES, UnknownPeriod, is_period, resolve_period

NY = "America/New_York"
# Wednesday 2026-11-25 15:00 in New York
NOV_25 = dt.datetime(2026, 11, 25, 20, 0, tzinfo=dt.UTC)
# Tuesday 2026-02-10 15:00 in New York: before this year's Q3 and November have started
FEB_10 = dt.datetime(2026, 2, 10, 20, 0, tzinfo=dt.UTC)
D = dt.date


@pytest.mark.parametrize(
    ("now", "text", "start", "end", "label"),
    [
        # quarters: calendar quarters; the current one is "this quarter" (to date)
        (NOV_25, "q3", D(2026, 7, 1), D(2026, 9, 30), "Q3 2026"),
        (NOV_25, "Q3", D(2026, 7, 1), D(2026, 9, 30), "Q3 2026"),
        (NOV_25, "q4", D(2026, 10, 1), D(2026, 11, 25), "this quarter"),
        (NOV_25, "q1", D(2026, 1, 1), D(2026, 3, 31), "Q1 2026"),
        (FEB_10, "q3", D(2025, 7, 1), D(2025, 9, 30), "Q3 2025"),  # Q3 2026 hasn't started
        (FEB_10, "q1", D(2026, 1, 1), D(2026, 2, 10), "this quarter"),
        (NOV_25, "q2 2025", D(2025, 4, 1), D(2025, 6, 30), "Q2 2025"),
        (NOV_25, "q4 2026", D(2026, 10, 1), D(2026, 11, 25), "this quarter"),
        (NOV_25, "qtd", D(2026, 10, 1), D(2026, 11, 25), "this quarter"),
        (NOV_25, "last quarter", D(2026, 7, 1), D(2026, 9, 30), "last quarter"),
        (FEB_10, "last quarter", D(2025, 10, 1), D(2025, 12, 31), "last quarter"),
        (NOV_25, "Last_Quarter", D(2026, 7, 1), D(2026, 9, 30), "last quarter"),
        # years
        (NOV_25, "ytd", D(2026, 1, 1), D(2026, 11, 25), "this year"),
        (NOV_25, "this year", D(2026, 1, 1), D(2026, 11, 25), "this year"),
        (NOV_25, "last year", D(2025, 1, 1), D(2025, 12, 31), "last year"),
        # months: the most recent one that has started; the current one is "this month"
        (NOV_25, "november", D(2026, 11, 1), D(2026, 11, 25), "this month"),
        (NOV_25, "nov", D(2026, 11, 1), D(2026, 11, 25), "this month"),
        (FEB_10, "nov", D(2025, 11, 1), D(2025, 11, 30), "November 2025"),
        (FEB_10, "November", D(2025, 11, 1), D(2025, 11, 30), "November 2025"),
        (NOV_25, "oct", D(2026, 10, 1), D(2026, 10, 31), "October 2026"),
        (NOV_25, "feb", D(2026, 2, 1), D(2026, 2, 28), "February 2026"),
        (NOV_25, "sept", D(2026, 9, 1), D(2026, 9, 30), "September 2026"),
        (NOV_25, "dec", D(2025, 12, 1), D(2025, 12, 31), "December 2025"),
        (NOV_25, "nov 2025", D(2025, 11, 1), D(2025, 11, 30), "November 2025"),
        (NOV_25, "feb 2024", D(2024, 2, 1), D(2024, 2, 29), "February 2024"),  # leap year
        (NOV_25, "november 2026", D(2026, 11, 1), D(2026, 11, 25), "this month"),
        # rolling windows ending today
        (NOV_25, "past week", D(2026, 11, 19), D(2026, 11, 25), "last 7 days"),
        (NOV_25, "last 7 days", D(2026, 11, 19), D(2026, 11, 25), "last 7 days"),
        (NOV_25, "last 30 days", D(2026, 10, 27), D(2026, 11, 25), "last 30 days"),
        # what `metrics.lookup.resolve_period` reads is read as it reads it
        (NOV_25, "last week", D(2026, 11, 16), D(2026, 11, 22), "last week"),
        (NOV_25, "this quarter", D(2026, 10, 1), D(2026, 11, 25), "this quarter"),
        (
            NOV_25,
            "2026-11-01..2026-11-15",
            D(2026, 11, 1),
            D(2026, 11, 15),
            "2026-11-01..2026-11-15",
        ),
    ],
)
def test_period_words(
    now: dt.datetime, text: str, start: dt.date, end: dt.date, label: str
) -> None:
    period = resolve_period(text, now=now, timezone=NY)
    assert (period.start, period.end, period.label) == (start, end, label)


def test_the_year_and_month_are_the_zones() -> None:
    """03:00Z on Thursday 2026-01-01 is still Wednesday 2025-12-31 in Chicago: there `ytd`
    is all of 2025, `last year` is 2024 and `dec` is this month; in UTC it is a new year."""
    now = dt.datetime(2026, 1, 1, 3, 0, tzinfo=dt.UTC)
    chicago = "America/Chicago"
    ytd = resolve_period("ytd", now=now, timezone=chicago)
    assert (ytd.start, ytd.end) == (D(2025, 1, 1), D(2025, 12, 31))
    assert resolve_period("last year", now=now, timezone=chicago).start == D(2024, 1, 1)
    assert resolve_period("dec", now=now, timezone=chicago).label == "this month"
    assert resolve_period("q4", now=now, timezone=chicago).label == "this quarter"
    utc = resolve_period("ytd", now=now, timezone="UTC")
    assert (utc.start, utc.end) == (D(2026, 1, 1), D(2026, 1, 1))
    dec = resolve_period("dec", now=now, timezone="UTC")
    assert (dec.start, dec.end, dec.label) == (D(2025, 12, 1), D(2025, 12, 31), "December 2025")
    assert resolve_period("q4", now=now, timezone="UTC").label == "Q4 2025"


def test_unknown_period_lists_what_works_and_quotes_little() -> None:
    with pytest.raises(UnknownPeriod) as info:
        resolve_period("narnia", now=NOV_25, timezone=NY)
    message = str(info.value)
    assert message == f"unknown period 'narnia': try {EXAMPLES}"
    for works in ("q3", "last quarter", "ytd", "nov 2025", "past week", "last 30 days"):
        assert works in message
        resolve_period(works, now=NOV_25, timezone=NY)  # every example works
    with pytest.raises(UnknownPeriod) as info:
        resolve_period("x" * 600, now=NOV_25, timezone=NY)
    assert f"'{'x' * 59}…'" in str(info.value) and "x" * 60 not in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-13-01", "'2026-13-01' is not a day I can read: write YYYY-MM-DD"),
        ("2026-02-30..2026-03-02", "is not a day I can read"),
        ("q1 0001", "0001-01-01 is too early"),
        ("q4 9999", "is too late: a period must end by 9998-12-31"),
        ("nov 0000", "0000 is not a year I can count in"),
        ("2026-11-05..2026-11-01", "before it starts"),
    ],
)
def test_periods_that_cannot_be_used_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        resolve_period(text, now=NOV_25, timezone=NY)
    assert not isinstance(info.value, UnknownPeriod)
    assert is_period(text)  # written as a period: the parser takes it as one


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("q3", True),
        ("nov 2025", True),
        ("last 2 weeks", True),
        ("wtd", True),
        ("q5", False),
        ("novembre", False),
        ("nov 25", False),
        ("sdr", False),
        ("last", False),
        ("fortnight", False),
    ],
)
def test_is_period(text: str, answer: bool) -> None:
    assert is_period(text) is answer
