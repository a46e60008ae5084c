"""The scoreboard's memoised labels against the formulas they replace: the Details button's
value (compact JSON) and the 'as of' time in the rep's zone, across DST changes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from rhythms.scoreboard_message import _as_of_label, button_value, rep_message
from rhythms.scoreboard_views import parse_button_value
from tests.rhythms.test_scoreboard import board

ZONES = ("America/Chicago", "America/New_York", "Europe/London", "Australia/Sydney", "UTC")
# Instants around the 2026 changes: US 8 Mar / 1 Nov, EU 29 Mar / 25 Oct, AU 5 Apr / 4 Oct.
INSTANTS = [
    dt.datetime(2026, 3, 8, 7, 59, tzinfo=dt.UTC),
    dt.datetime(2026, 3, 8, 8, 0, tzinfo=dt.UTC),
    dt.datetime(2026, 3, 29, 0, 59, tzinfo=dt.UTC),
    dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC),
    dt.datetime(2026, 4, 4, 15, 59, tzinfo=dt.UTC),
    dt.datetime(2026, 4, 4, 16, 0, tzinfo=dt.UTC),
    dt.datetime(2026, 10, 25, 0, 59, tzinfo=dt.UTC),
    dt.datetime(2026, 10, 25, 1, 0, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 1, 5, 59, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 1, 6, 0, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 1, 7, 0, tzinfo=dt.UTC),
]


@pytest.mark.parametrize("zone", ZONES)
def test_as_of_label_is_the_local_time_across_dst(zone: str) -> None:
    for instant in INSTANTS:
        expected = f"as of {instant.astimezone(ZoneInfo(zone)):%H:%M %Z}"
        assert _as_of_label(instant, zone) == expected
        assert _as_of_label(instant, zone) == expected  # from the cache


def test_rep_message_shows_each_reps_own_zone() -> None:
    base = board()
    at = dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC)  # 01:30 CDT, then 01:30 CST again
    texts = {}
    for zone in ("America/Chicago", "America/New_York"):
        msg = rep_message(dataclasses.replace(base, as_of=at, timezone=zone))
        texts[zone] = json.dumps(msg["blocks"])
    assert "as of 01:30 CDT" in texts["America/Chicago"]
    assert "as of 01:30 EST" in texts["America/New_York"]


def test_button_value_is_compact_json() -> None:
    for person_id, day in ((7, dt.date(2026, 11, 23)), (123456789, dt.date(2024, 2, 29))):
        b = dataclasses.replace(board(), person_id=person_id, day=day)
        value = button_value(b)
        assert value == json.dumps({"p": person_id, "d": day.isoformat()}, separators=(",", ":"))
        assert parse_button_value(value) == (person_id, day)
