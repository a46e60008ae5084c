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


class OffsetClock:
    """The system clock shifted forward by an adjustable offset: time keeps flowing, and the
    demo's time control can jump ahead (`jump_to`, `advance`). Never goes backwards."""

    def __init__(self, base: Clock | None = None) -> None:
        self._base = base or SystemClock()
        self._lock = threading.Lock()
        self._offset = dt.timedelta(0)

    def now(self) -> dt.datetime:
        with self._lock:
            return self._base.now() + self._offset

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        if delta < dt.timedelta(0):
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += delta
            return self._base.now() + self._offset

    def jump_to(self, when: dt.datetime) -> dt.datetime:
        return self.advance(max(dt.timedelta(0), _aware(when) - self.now()))
