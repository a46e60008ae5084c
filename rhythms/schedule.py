"""When rhythms are due: cron in a zone, period keys, catch-up windows and DST.

A rhythm's cron is read as *wall-clock* time in a zone ("30 17 * * mon-fri" is 17:30 on the
clock on a Chicago rep's wall). We enumerate matching wall-clock times with APScheduler's
`CronTrigger` (built by `rhythms.cron`, which reads weekday numbers as cron does) evaluated
on naive local times and only then attach the zone, so a DST change neither skips nor
doubles a day: every matching local day yields exactly one instant. A wall time that does
not exist (02:30 on the spring-forward night) fires at the instant the clock jumps past it;
an ambiguous one (01:30 on fall-back night) fires at its first occurrence.

Period keys name one firing for one zone: ``daily_scoreboard:2026-11-23:America/Chicago``
for a rhythm that fires at most once a day, ``alerts:2026-11-23T0930:America/Chicago``
otherwise. The rhythm run table has a unique key on (rhythm, period_key), so each period
runs once whatever the number of schedulers. A run's deliveries carry the key without the
zone (`delivery_key`), so a person is served once per local day even if their zone changes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from rhythms.cron import cron_trigger

_DST_MARGIN = dt.timedelta(hours=3)


@dataclass(frozen=True)
class Firing:
    """One scheduled firing of a rhythm in one zone."""

    rhythm: str
    zone: str
    at: dt.datetime  # aware UTC
    local: dt.datetime  # aware, in `zone`
    period_key: str


@lru_cache(maxsize=256)
def _wall_trigger(expr: str) -> CronTrigger:
    # Evaluated in UTC on naive wall-clock times: UTC has no DST, so the cron arithmetic
    # never meets a gap or an overlap. Weekday numbers are cron's (0 = Sunday): `rhythms.cron`.
    return cron_trigger(expr, timezone=dt.UTC)


def fires_once_a_day(expr: str) -> bool:
    """True when the cron's minute and hour are single values (at most one firing a day)."""
    minute, hour = expr.split()[:2]
    return minute.isdigit() and hour.isdigit()


def period_key(rhythm: str, local: dt.datetime, zone: str, *, daily: bool) -> str:
    stamp = local.date().isoformat() if daily else local.strftime("%Y-%m-%dT%H%M")
    return f"{rhythm}:{stamp}:{zone}"


def delivery_key(run_key: str) -> str:
    """The outbox period key of a run's deliveries: the run key without its zone.

    Deliveries are unique per (rhythm, this key, recipient, part), so a person whose zone
    changes during the day (travel, a profile update) is served by one zone's run only.
    """
    rhythm, stamp, _zone = parse_period_key(run_key)
    return f"{rhythm}:{stamp}"


def parse_period_key(key: str) -> tuple[str, str, str]:
    """(rhythm, stamp, zone) of a period key."""
    rhythm, stamp, zone = key.split(":", 2)
    return rhythm, stamp, zone


def wall_to_instant(wall: dt.datetime, zone: str) -> dt.datetime:
    """A naive wall-clock time in `zone` as an aware UTC instant (fold=0: first occurrence)."""
    return wall.replace(tzinfo=ZoneInfo(zone), fold=0).astimezone(dt.UTC)


def firings(
    rhythm: str, expr: str, zone: str, start: dt.datetime, end: dt.datetime
) -> list[Firing]:
    """Every firing of `expr` in `zone` with start < instant <= end (aware datetimes)."""
    if end <= start:
        return []
    tz = ZoneInfo(zone)
    trigger = _wall_trigger(expr)
    daily = fires_once_a_day(expr)
    wall_from = (start.astimezone(tz) - _DST_MARGIN).replace(tzinfo=None)
    wall_to = (end.astimezone(tz) + _DST_MARGIN).replace(tzinfo=None)
    found: dict[str, Firing] = {}
    cursor = wall_from.replace(tzinfo=dt.UTC)
    limit = wall_to.replace(tzinfo=dt.UTC)
    previous: dt.datetime | None = None
    while True:
        fire = trigger.get_next_fire_time(previous, cursor)
        if fire is None or fire > limit:
            break
        wall = fire.replace(tzinfo=None)
        instant = wall_to_instant(wall, zone)
        if start < instant <= end:
            local = instant.astimezone(tz)
            key = period_key(rhythm, wall, zone, daily=daily)
            found.setdefault(key, Firing(rhythm, zone, instant, local, key))
        previous = fire
        cursor = fire + dt.timedelta(seconds=1)
    return sorted(found.values(), key=lambda f: f.at)


def next_firing(rhythm: str, expr: str, zone: str, after: dt.datetime) -> Firing | None:
    """The first firing strictly after `after` (looks up to 400 days ahead)."""
    horizon = after
    for days in (2, 8, 40, 400):
        found = firings(rhythm, expr, zone, horizon, after + dt.timedelta(days=days))
        if found:
            return found[0]
        horizon = after + dt.timedelta(days=days)
    return None


@dataclass(frozen=True)
class DuePlan:
    """What a tick found for one rhythm and zone: firings to run now and misses to skip."""

    due: tuple[Firing, ...]
    missed: tuple[Firing, ...]


def classify(
    found: list[Firing], *, now: dt.datetime, grace: dt.timedelta, known: set[str]
) -> DuePlan:
    """Split firings not yet recorded (`known` period keys) into due (late by at most
    `grace`) and missed (older: recorded as skipped, never sent)."""
    due: list[Firing] = []
    missed: list[Firing] = []
    for firing in found:
        if firing.period_key in known:
            continue
        (due if now - firing.at <= grace else missed).append(firing)
    return DuePlan(tuple(due), tuple(missed))


def latest_only(due: list[Firing]) -> tuple[Firing | None, tuple[Firing, ...]]:
    """(the latest firing, the earlier ones it supersedes) of one zone's due firings.

    Catch-up sends a rhythm once, not once per firing missed: after an hour of downtime an
    every-10-minutes rhythm sends its latest firing, and the earlier ones are recorded as
    superseded (`skipped`), so the schedule's memory stays complete.
    """
    if not due:
        return None, ()
    ordered = sorted(due, key=lambda f: f.at)
    return ordered[-1], tuple(ordered[:-1])
