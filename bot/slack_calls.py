"""One Web API call with Slack's failure modes sorted out: rate limits, 5xx, timeouts.

`SlackCaller.call(method, func, **kwargs)` paces the call (`RateLimiter`; chat.postMessage
per its ``channel`` argument),
waits out 429s for their ``Retry-After`` and tries again, and returns an `Outcome`:

- ``ok`` — Slack answered ``ok: true``;
- ``permanent`` — Slack refused for good (``not_in_channel``, ``invalid_blocks``, a missing
  scope: ``missing_scope: METHOD needs SCOPE``...);
- ``retryable`` — nothing happened (connection refused, a transient Slack error): try later;
- ``ambiguous`` — a timeout, a dropped connection or a 5xx: Slack may or may not have done
  it, so the caller must check before trying again (see `bot.reconcile`);
- ``auth`` — Slack refused the bot itself (`bot.failures.AUTH_ERRORS`: invalid or revoked
  token): nothing can be sent until that is fixed.

Errors are translated here, at the boundary; nothing above this module sees slack_sdk's or
aiohttp's exceptions.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.failures import is_global, is_permanent, scope_error
from bot.ratelimit import RateLimiter

log = logging.getLogger(__name__)

OutcomeKind = Literal["ok", "permanent", "retryable", "ambiguous", "auth"]
MAX_RATELIMITED_WAITS = 50
DEFAULT_RETRY_AFTER = 1.0


@dataclass
class Outcome:
    kind: OutcomeKind
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


def retry_after_seconds(headers: Any) -> float:
    """Seconds from a 429's Retry-After header (Slack sends whole seconds)."""
    try:
        value = float((headers or {}).get("Retry-After", DEFAULT_RETRY_AFTER))
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    return max(0.0, value)


class SlackCaller:
    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter
        self.ratelimited = 0  # 429s met (for logs and tests)

    async def call(
        self,
        method: str,
        func: Callable[..., Awaitable[AsyncSlackResponse]],
        **kwargs: Any,
    ) -> Outcome:
        channel = str(kwargs["channel"]) if method == "chat.postMessage" else None
        for _ in range(MAX_RATELIMITED_WAITS):
            await self.limiter.acquire(method, channel)
            try:
                response = await func(**kwargs)
            except SlackApiError as exc:
                status = exc.response.status_code
                if status == 429:
                    self.ratelimited += 1
                    self.limiter.pause(method, channel, retry_after_seconds(exc.response.headers))
                    continue
                data = exc.response.data if isinstance(exc.response.data, dict) else {}
                error = str(data.get("error") or f"http_{status}")
                if is_global(error):
                    return Outcome("auth", data, error)
                if error == "missing_scope":  # one method (one kind of delivery), for good
                    return Outcome("permanent", data, scope_error(method, data))
                if status >= 500:
                    return Outcome("ambiguous", data, error)
                return Outcome("permanent" if is_permanent(error) else "retryable", data, error)
            except aiohttp.ClientConnectorError as exc:
                return Outcome("retryable", error=f"connection_failed: {type(exc).__name__}")
            except (TimeoutError, aiohttp.ClientError, SlackClientError) as exc:
                return Outcome("ambiguous", error=f"{type(exc).__name__}: {exc}"[:300])
            return Outcome("ok", dict(response.data) if isinstance(response.data, dict) else {})
        return Outcome("retryable", error="ratelimited")
