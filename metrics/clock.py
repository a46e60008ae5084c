"""Injected time. Code asks a `Clock` for now; tests and the demo use a `TravellingClock`.

All instants are aware UTC; convert to a person's zone at the edge (`local_now`).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current instant, aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class TravellingClock:
    """A clock that stands still until moved: `set(when)` or `advance(delta)`. Thread-safe."""

    def __init__(self, start: dt.datetime) -> None:
        self._lock = threading.Lock()
        self._now = _aware(start)

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    def set(self, when: dt.datetime) -> None:
        with self._lock:
            self._now = _aware(when)

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        with self._lock:
            self._now = self._now + delta
            return self._now


def _aware(when: dt.datetime) -> dt.datetime:
    if when.tzinfo is None:
        raise ValueError("clock times must be timezone-aware")
    return when.astimezone(dt.UTC)


def local_now(clock: Clock, zone: str) -> dt.datetime:
    return clock.now().astimezone(ZoneInfo(zone))
