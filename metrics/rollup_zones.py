"""Local days in SQL: a time zone's UTC offsets as a SQL expression, and team spans.

The in-database rollup (`metrics.rollup_sql`) places each record on its owner's local day
without a per-row join: every zone's offset history (from zoneinfo, the same rules the
Python path uses) becomes a nested ``CASE`` that binary-searches the record's UTC timestamp
among the zone's transitions, and the owners' zones are dispatched the same way. The day is
then ``date(substr(ts, 1, 19), '+N seconds')`` on SQLite (whole seconds: SQLite rounds
fractional seconds to milliseconds and could push 23:59:59.9996 to the next day) and
``CAST(ts AT TIME ZONE 'UTC' + N * INTERVAL '1 second' AS DATE)`` on PostgreSQL.

Transitions are found between 1970 and 2100 by stepping a day at a time and bisecting to the
second (an offset that changes and changes back within one day would be missed; tzdata has
none). Records outside that range get the offset in force at its edge.
"""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_right
from functools import lru_cache
from zoneinfo import ZoneInfo

FIRST = int(dt.datetime(1970, 1, 1, tzinfo=dt.UTC).timestamp())
LAST = int(dt.datetime(2100, 1, 1, tzinfo=dt.UTC).timestamp())
DAY = 86400
EPOCH = dt.date(1970, 1, 1)


def _offset(zone: ZoneInfo, second: int) -> int:
    offset = dt.datetime.fromtimestamp(second, zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


@lru_cache(maxsize=512)
def transitions(name: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(instants, offsets): offsets[i] is in force before instants[i] (and after
    instants[i - 1]); offsets[-1] after the last instant. Epoch seconds, UTC."""
    zone = ZoneInfo(name)
    instants: list[int] = []
    offsets = [_offset(zone, FIRST)]
    second = FIRST
    while second < LAST:
        step = min(DAY, LAST - second)
        after = _offset(zone, second + step)
        if after == offsets[-1]:
            second += step
            continue
        lo, hi = second, second + step  # offset(lo) == current, offset(hi) != current
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _offset(zone, mid) == offsets[-1]:
                lo = mid
            else:
                hi = mid
        instants.append(hi)
        offsets.append(_offset(zone, hi))
        second = hi
    return tuple(instants), tuple(offsets)


def timestamp_literal(second: int, *, sqlite: bool) -> str:
    """A UTC instant (epoch seconds) as a literal comparable with a stored `UTCDateTime`."""
    return instant_literal(dt.datetime.fromtimestamp(second, dt.UTC), sqlite=sqlite)


def instant_literal(when: dt.datetime, *, sqlite: bool) -> str:
    """An aware instant as a literal comparable with a stored `UTCDateTime` column."""
    text = when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return f"'{text}'" if sqlite else f"TIMESTAMPTZ '{text}+00'"


def _offset_value(seconds: int, *, sqlite: bool) -> str:
    return f"'{seconds:+d} seconds'" if sqlite else str(seconds)


@lru_cache(maxsize=512)
def offset_case(
    column: str, name: str, *, sqlite: bool, within: tuple[int, int] | None = None
) -> str:
    """SQL for the zone's UTC offset at `column` (a '+N seconds' modifier on SQLite, integer
    seconds on PostgreSQL): a binary search over the zone's transitions — only those inside
    `within` (epoch seconds, both ends included) if given, right for instants in it alone."""
    instants, offsets = transitions(name)

    def search(lo: int, hi: int) -> str:  # offsets[lo..hi]
        if lo == hi:
            return _offset_value(offsets[lo], sqlite=sqlite)
        mid = (lo + hi + 1) // 2
        bound = timestamp_literal(instants[mid - 1], sqlite=sqlite)
        return f"CASE WHEN {column} < {bound} THEN {search(lo, mid - 1)} ELSE {search(mid, hi)} END"

    if within is None:
        return search(0, len(offsets) - 1)
    # offsets[i] is in force from instants[i - 1] to instants[i]
    return search(bisect_right(instants, within[0]), bisect_right(instants, within[1]))


def zone_dispatch(key: str, branches: list[str]) -> str:
    """SQL choosing branches[i] where `key` = i (a binary search on an integer)."""

    def search(lo: int, hi: int) -> str:
        if lo == hi:
            return branches[lo]
        mid = (lo + hi + 1) // 2
        return f"CASE WHEN {key} < {mid} THEN {search(lo, mid - 1)} ELSE {search(mid, hi)} END"

    return search(0, len(branches) - 1)


def local_day_sql(
    column: str,
    zone_key: str,
    zones: list[str],
    *,
    sqlite: bool,
    julian: bool = False,
    within: tuple[dt.datetime, dt.datetime] | None = None,
) -> str:
    """SQL for the local calendar day of UTC timestamp `column` for an owner whose zone is
    zones[`zone_key`]; on SQLite with `julian`, as its Julian day number (an integer that
    `date()` turns back into the day: local times of day D have julianday in
    [JDN(D) - 0.5, JDN(D) + 0.5), exact in whole seconds).

    `within` (the records' first and last instants, when known) trims each zone's search to
    the transitions in that span — a few comparisons a record instead of ~9 over 1970-2100;
    an instant outside it (a record written meanwhile) takes the full search."""
    offset = zone_dispatch(zone_key, [offset_case(column, z, sqlite=sqlite) for z in zones])
    if within is not None:
        first, last = math.floor(within[0].timestamp()), math.ceil(within[1].timestamp())
        trimmed = zone_dispatch(
            zone_key,
            [offset_case(column, z, sqlite=sqlite, within=(first, last)) for z in zones],
        )
        if trimmed != offset:
            lo, hi = (timestamp_literal(s, sqlite=sqlite) for s in (first, last))
            offset = (
                f"CASE WHEN {column} >= {lo} AND {column} <= {hi} THEN {trimmed} ELSE {offset} END"
            )
    if sqlite and julian:
        return f"CAST(julianday(substr({column}, 1, 19), {offset}) + 0.5 AS INTEGER)"
    if sqlite:
        return f"date(substr({column}, 1, 19), {offset})"
    return f"CAST({column} AT TIME ZONE 'UTC' + ({offset}) * INTERVAL '1 second' AS DATE)"


def team_pieces(
    spans: list[tuple[dt.date, dt.date | None, str]],
) -> list[tuple[dt.date, str | None]]:
    """A person's memberships as (first day, team) pieces covering every day, each piece
    running until the next one's first day; the team is what `Directory.team_on` answers
    (the first membership, in valid_from order, that contains the day) for days since 1970;
    earlier days (no record has them in practice) get 1970's team."""

    def team_on(day: dt.date) -> str | None:
        for start, end, team in spans:
            if start <= day and (end is None or day < end):
                return team
        return None

    # Days before 1970 are treated as 1970 (a membership "since always" starts then).
    starts = {max(s, EPOCH) for s, _, _ in spans}
    bounds = sorted({EPOCH} | starts | {max(e, EPOCH) for _, e, _ in spans if e})
    pieces: list[tuple[dt.date, str | None]] = []
    for day in bounds:
        team = team_on(day)
        if not pieces or pieces[-1][1] != team:
            pieces.append((dt.date.min if not pieces else day, team))
    return pieces
