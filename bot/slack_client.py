"""The one Slack Web API client: `AsyncWebClient` on one shared aiohttp session.

    session = make_http_session()
    client = make_slack_client(settings, session=session)
    ...
    await session.close()

`SLACK_API_URL` (settings.slack_api_url) sets the base URL, so the same code talks to Slack,
a proxy or the local sandbox. The session's timeout applies to every call (slack_sdk uses the
running session's timeout). No automatic retries: the sender decides what is safe to retry,
because retrying a `chat.postMessage` whose answer was lost could post it twice.
"""

from __future__ import annotations

import logging

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings, secret_value

DEFAULT_TIMEOUT_SECONDS = 30.0


def make_http_session(timeout: float = DEFAULT_TIMEOUT_SECONDS) -> aiohttp.ClientSession:
    """One pooled session for the whole process (about 3x the throughput of one per call)."""
    connector = aiohttp.TCPConnector(limit=100, limit_per_host=100)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout))


def make_slack_client(settings: Settings, *, session: aiohttp.ClientSession) -> AsyncWebClient:
    """A Web API client for the bot token, pointed at `settings.slack_api_url`."""
    base_url = settings.slack_api_url
    if not base_url.endswith("/"):
        base_url += "/"
    timeout = session.timeout.total or DEFAULT_TIMEOUT_SECONDS
    return AsyncWebClient(
        logger=_sdk_logger(),
        token=secret_value(settings.slack_bot_token),
        base_url=base_url,
        session=session,
        timeout=int(max(1, timeout)),
        retry_handlers=[],
    )


class _SdkLogger(logging.Logger):
    """slack_sdk's client logger, answering `level` with the *effective* level.

    slack_sdk formats every request and response for its debug log whenever
    ``logger.level <= DEBUG``, which its own logger, left at NOTSET, always is: ~80 µs per
    `chat.postMessage` (the blocks formatted twice) with debug logging off. Records still go
    out under slack_sdk's logger name and through its handlers; turning debug logging on
    later (a test's caplog, the CLI) shows them again.
    """

    def __init__(self, parent: logging.Logger) -> None:
        super().__init__(parent.name)
        self.parent = parent

    @property
    def level(self) -> int:
        return self.parent.getEffectiveLevel() if self.parent else logging.WARNING

    @level.setter
    def level(self, _value: int) -> None:  # Logger.__init__ sets it; the parent's level rules
        return

    def isEnabledFor(self, level: int) -> bool:  # uncached: logging may be reconfigured
        return self.manager.disable < level and level >= self.level


def _sdk_logger() -> logging.Logger:
    return _SdkLogger(logging.getLogger("slack_sdk.web.async_base_client"))
