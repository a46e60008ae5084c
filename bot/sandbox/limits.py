"""Rate limits and fault injection, the way Slack applies them.

Per-method tiers (Tier 1..4: 1, 20, 50, 100 per minute, with bursts), "Special" methods
(chat.postMessage: about one message per second per channel, bursts allowed; a workspace-wide
cap of several hundred per minute). Over the limit the sandbox answers HTTP 429 with
``{"ok": false, "error": "ratelimited"}`` and a ``Retry-After`` header.

`time_scale` shrinks every window (0.01 turns a minute into 0.6 s) and `retry_after` sets the
header value, so tests exercise the 429 path without sleeping whole seconds. The sandbox's
clock here is the real monotonic clock: it is infrastructure that paces real HTTP traffic.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

# Per minute; from refs/slack/bot_methods_summary.json (docs_rate_limit).
TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
METHOD_TIERS = {
    "auth.test": 4,
    "chat.postEphemeral": 4,
    "chat.update": 3,
    "chat.delete": 3,
    "conversations.open": 3,
    "conversations.history": 3,
    "conversations.list": 2,
    "conversations.replies": 3,
    "users.list": 2,
    "users.info": 4,
    "views.open": 4,
    "views.publish": 4,
    "views.update": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
    "reactions.add": 3,
}
POST_MESSAGE_PER_CHANNEL_PER_SECOND = 1.0
POST_MESSAGE_WORKSPACE_PER_MINUTE = 600
CHANNEL_BURST = 3.0  # messages a channel may take at once
TIER_BURST_SECONDS = 10.0  # seconds of a tier's allowance that may be spent at once


@dataclass
class Bucket:
    rate: float  # tokens per second
    capacity: float
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """Take one token; 0.0 if granted, else seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass
class RateLimits:
    """Slack-like limits. `enabled=False` turns them off (pure-overhead benchmarks)."""

    enabled: bool = True
    time_scale: float = 1.0
    retry_after: float | None = None  # header value; None: the real wait, rounded up
    _buckets: dict[str, Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, method: str, channel: str | None = None) -> float | None:
        """None when the call may proceed, else the Retry-After value (seconds) to send."""
        if not self.enabled:
            return None
        now = time.monotonic()
        keys: list[tuple[str, float]] = []
        if method == "chat.postMessage":
            keys.append(("workspace:chat.postMessage", POST_MESSAGE_WORKSPACE_PER_MINUTE / 60))
            if channel:
                keys.append((f"channel:{channel}", POST_MESSAGE_PER_CHANNEL_PER_SECOND))
        elif method in METHOD_TIERS:
            keys.append((f"method:{method}", TIER_PER_MINUTE[METHOD_TIERS[method]] / 60))
        wait = 0.0
        with self._lock:
            for key, per_second in keys:
                bucket = self._buckets.get(key)
                rate = per_second / self.time_scale
                if bucket is None:
                    burst = (
                        CHANNEL_BURST
                        if key.startswith("channel:")
                        else per_second * TIER_BURST_SECONDS
                    )
                    capacity = max(1.0, burst)
                    bucket = Bucket(rate, capacity, capacity, now)
                    self._buckets[key] = bucket
                wait = max(wait, bucket.take(now))
        if wait <= 0.0:
            return None
        return self.retry_after if self.retry_after is not None else float(int(wait) + 1)

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


@dataclass
class Faults:
    """Inject failures at a chosen rate: 429s, 500s, timeouts (a response held too long) and
    dropped connections (the call is carried out, then the socket is closed unanswered).

    `timeout_processes` decides whether a timed-out call was carried out before the hang (the
    nasty real-world case: the message is posted but the client never hears so).
    """

    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_timeout: float = 0.0
    rate_drop: float = 0.0
    timeout_seconds: float = 2.0
    timeout_processes: bool = True
    retry_after: float = 1.0
    methods: frozenset[str] | None = None  # None: every method
    seed: int | None = 1
    _rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    def draw(self, method: str) -> str | None:
        """'429', '500', 'timeout', 'drop' or None for this call."""
        if self.methods is not None and method not in self.methods:
            return None
        roll = self._rng.random()
        for kind, rate in (("429", self.rate_429), ("500", self.rate_500)):
            if roll < rate:
                return kind
            roll -= rate
        if roll < self.rate_timeout:
            return "timeout"
        roll -= self.rate_timeout
        if roll < self.rate_drop:
            return "drop"
        return None
