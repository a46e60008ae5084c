"""Client-side pacing for Slack's rate limits, so the sender rarely meets a 429.

Token buckets per method tier (Tier 2: 20/min, Tier 3: 50/min, Tier 4: 100/min, with a few
seconds of burst) and ``chat.postMessage`` paced at about one message per second per channel
(each DM is its own channel, so a 10,000-rep fan-out is not held back by this). A 429's
``Retry-After`` pauses the key that was limited (the method, or the method in that channel).

`scale` multiplies every interval: 1.0 in production, small in tests so they stay fast.
This paces real network traffic, so it uses the event loop's monotonic time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

TIER_PER_MINUTE = {2: 20.0, 3: 50.0, 4: 100.0}
METHOD_TIERS = {
    "chat.postEphemeral": 4,
    "chat.update": 3,
    "chat.delete": 3,
    "conversations.open": 3,
    "conversations.history": 3,
    "conversations.list": 2,
    "conversations.replies": 3,
    "users.list": 2,
    "users.info": 4,
    "views.publish": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
}
POST_MESSAGE_PER_CHANNEL_PER_SECOND = 1.0
CHANNEL_BURST = 3.0  # messages a channel may take at once
TIER_BURST_SECONDS = 10.0  # seconds of a tier's allowance that may be spent at once


@dataclass
class _Bucket:
    rate: float
    capacity: float
    tokens: float
    stamp: float
    paused_until: float = 0.0


class RateLimiter:
    """`await limiter.acquire(method, channel)` before a call; `pause(...)` after a 429."""

    def __init__(self, *, scale: float = 1.0, enabled: bool = True) -> None:
        self.scale = scale
        self.enabled = enabled
        self._buckets: dict[str, _Bucket] = {}

    def _key(self, method: str, channel: str | None) -> tuple[str, float]:
        """The bucket key and its rate per second (0: not paced, only paused by 429s)."""
        if method == "chat.postMessage":
            if channel is None:
                return method, 0.0
            return f"{method}:{channel}", POST_MESSAGE_PER_CHANNEL_PER_SECOND
        tier = METHOD_TIERS.get(method)
        return method, (TIER_PER_MINUTE[tier] / 60.0 if tier else 0.0)

    def _bucket(self, key: str, per_second: float, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            burst = CHANNEL_BURST if ":" in key else per_second * TIER_BURST_SECONDS
            capacity = max(1.0, burst)
            bucket = _Bucket(per_second / self.scale, capacity, capacity, now)
            self._buckets[key] = bucket
        return bucket

    async def acquire(self, method: str, channel: str | None = None) -> None:
        """Wait until a call to `method` (in `channel`) is within the limits, then take it."""
        key, per_second = self._key(method, channel)
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            bucket = self._bucket(key, per_second, now)
            wait = bucket.paused_until - now
            if wait <= 0:
                if not self.enabled or bucket.rate <= 0:
                    return
                elapsed = now - bucket.stamp
                bucket.tokens = min(bucket.capacity, bucket.tokens + elapsed * bucket.rate)
                bucket.stamp = now
                if bucket.tokens >= 1.0:
                    bucket.tokens -= 1.0
                    return
                wait = (1.0 - bucket.tokens) / bucket.rate
            await asyncio.sleep(wait)

    def pause(self, method: str, channel: str | None, seconds: float) -> None:
        """Hold `method` (in `channel` for chat.postMessage) for `seconds` after a 429."""
        key, per_second = self._key(method, channel)
        now = asyncio.get_running_loop().time()
        bucket = self._bucket(key, per_second, now)
        bucket.paused_until = max(bucket.paused_until, now + seconds)
        bucket.tokens, bucket.stamp = 0.0, now + seconds
