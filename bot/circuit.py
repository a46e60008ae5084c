"""A circuit breaker for the sender: when most sends fail the same transient way (Slack
answers 5xx, or cannot be reached, or keeps rate-limiting), stop sending for a while instead
of spending every delivery's tries on an outage.

    breaker = CircuitBreaker(window=10, min_failures=5, share=0.8, base=5.0, cap=300.0)
    breaker.allows(now)                  # False while open
    breaker.record(now, "unreachable")   # a transient failure of that class (None: success)

Closed: the last `window` outcomes are kept; when at least `min_failures` of them and at
least `share` of them are failures of one class, the breaker opens for `base` seconds.
When that time is up it is half-open: the next outcome decides — a success closes it (and
the next opening starts from `base` again), a failure of the same class reopens it for twice
as long, up to `cap`. Time is the caller's clock (aware datetimes), so tests need no sleeps.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, deque


class CircuitBreaker:
    def __init__(
        self,
        *,
        window: int = 10,
        min_failures: int = 5,
        share: float = 0.8,
        base: float = 5.0,
        cap: float = 300.0,
    ) -> None:
        self.window = max(1, window)
        self.min_failures = max(1, min_failures)
        self.share = share
        self.base = base
        self.cap = cap
        self.open_until: dt.datetime | None = None
        self.reason: str | None = None  # the failure class that opened it
        self.openings = 0  # times opened (for logs and tests)
        self._samples: deque[str | None] = deque(maxlen=self.window)
        self._delay = base
        self._half_open = False

    def allows(self, now: dt.datetime) -> bool:
        """Whether a send may start now (closed, or half-open after the pause)."""
        if self.open_until is None:
            return True
        if now >= self.open_until:
            self._half_open = True
            return True
        return False

    def is_open(self, now: dt.datetime) -> bool:
        return not self.allows(now)

    def record(self, now: dt.datetime, failure: str | None) -> bool:
        """Count one outcome (`failure`: its transient class, None for a success); True when
        this outcome opened the breaker."""
        if self.open_until is not None and now < self.open_until:
            return False  # a send started before it opened: already counted in
        if self.open_until is not None:
            self._half_open = True
        if failure is None:
            if self.open_until is not None or self._half_open:
                self.open_until, self.reason, self._half_open = None, None, False
                self._delay = self.base
            self._samples.append(None)
            return False
        if self._half_open and failure == self.reason:
            self._delay = min(self.cap, self._delay * 2)
            return self._open(now, failure)
        self._samples.append(failure)
        cls, count = Counter(s for s in self._samples if s is not None).most_common(1)[0]
        if count >= self.min_failures and count >= self.share * len(self._samples):
            return self._open(now, cls)
        return False

    def _open(self, now: dt.datetime, reason: str) -> bool:
        self.open_until = now + dt.timedelta(seconds=self._delay)
        self.reason = reason
        self.openings += 1
        self._half_open = False
        self._samples.clear()
        return True
