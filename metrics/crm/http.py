"""HTTP plumbing shared by the API connectors: rate budgets, retries, error translation.

`ApiClient.request` waits for every matching `RateBudget`, sends, and retries on 429
(honouring `Retry-After`, seconds, fractions allowed), on 5xx, timeouts and connection
errors with capped exponential backoff. After `max_attempts` it raises `CrmApiError` with
the method, path and status only: URLs' query strings, headers and tokens never reach a
message; a refused credential (401/403) adds which one to check and, when the caller said
(`credential_label`), where its value came from. `sleep` and `monotonic` are injectable so
tests never really wait.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from metrics.crm.errors import CrmApiError, CrmConfigError

log = logging.getLogger(__name__)
Sleep = Callable[[float], None]


class RateBudget:
    """At most `calls` requests per rolling `per_seconds` window (client-side pacing)."""

    def __init__(
        self,
        calls: int,
        per_seconds: float,
        *,
        sleep: Sleep = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.calls, self.per_seconds = calls, per_seconds
        self._sleep, self._monotonic = sleep, monotonic
        self._sent: collections.deque[float] = collections.deque()

    def acquire(self) -> None:
        while True:
            now = self._monotonic()
            while self._sent and now - self._sent[0] >= self.per_seconds:
                self._sent.popleft()
            if len(self._sent) < self.calls:
                self._sent.append(now)
                return
            self._sleep(max(self.per_seconds - (now - self._sent[0]), 0.001))


@dataclass
class RetryPolicy:
    max_attempts: int = 8
    backoff_base: float = 0.5  # seconds; doubled per attempt
    backoff_cap: float = 60.0
    retry_after_cap: float = 300.0


@dataclass
class Usage:
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    timeouts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "server_errors": self.server_errors,
            "timeouts": self.timeouts,
            **self.extra,
        }


class ApiClient:
    """A sync httpx client with budgets, retries and clean errors, for one CRM."""

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Sleep = time.sleep,
        transport: httpx.BaseTransport | None = None,
        credential: str | None = None,
    ) -> None:
        self.name = name
        self.credential = credential  # named in 401/403 errors: "check <credential>"
        self.retry = retry or RetryPolicy()
        self.usage = Usage()
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=base_url,
            headers=dict(headers or {}),
            timeout=timeout,
            transport=transport,
        )

    def set_header(self, name: str, value: str) -> None:
        self._client.headers[name] = value

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        budgets: tuple[RateBudget, ...] = (),
        on_unauthorized: Callable[[], bool] | None = None,
        refused: tuple[int, ...] = (401, 403),
        **kwargs: Any,
    ) -> httpx.Response:
        """Send with retries; return the 2xx response or raise `CrmApiError`.

        `on_unauthorized` is called once on a 401; if it returns True (e.g. a refreshed
        token) the request is retried. A status in `refused` means the credential was refused:
        the error says to check `credential` (an OAuth token endpoint refuses with 400).
        """
        path = httpx.URL(url).path or url.split("?")[0]
        where = f"{self.name} {method} {path}"
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            for budget in budgets:
                budget.acquire()
            self.usage.requests += 1
            failure: str | None = None
            try:
                response = self._client.request(method, url, **kwargs)
            except httpx.TimeoutException as exc:
                self.usage.timeouts += 1
                failure = f"timed out ({type(exc).__name__})"
            except httpx.TransportError as exc:
                failure = f"connection failed ({type(exc).__name__})"
            if failure is not None:
                # Outside the except block: the transport exception (whose text can hold a
                # header value, i.e. a token) is not chained to what we raise.
                self._give_up_or_wait(attempt, where, failure, None)
                continue
            status = response.status_code
            if status < 300:
                return response
            if status == 401 and on_unauthorized is not None and not refreshed:
                refreshed = True
                if on_unauthorized():
                    continue
            if status == 429:
                self.usage.rate_limited += 1
                self._give_up_or_wait(attempt, where, "HTTP 429", _retry_after(response))
                continue
            if status >= 500:
                self.usage.server_errors += 1
                self._give_up_or_wait(attempt, where, f"HTTP {status}", _retry_after(response))
                continue
            hint = ""
            if status in refused and self.credential:
                hint = f"; check {self.credential}"
            raise CrmApiError(f"{where}: HTTP {status}: {_brief(response)}{hint}", status=status)

    def json(self, response: httpx.Response) -> dict[str, Any]:
        """The response's JSON object, or `CrmApiError` naming the endpoint and content type
        (an HTML maintenance page, a truncated body, a bare list or null)."""
        where = f"{self.name} {response.request.method} {response.request.url.path}"
        ctype = response.headers.get("Content-Type") or "no content type"
        try:
            body = response.json()
        except ValueError:  # JSONDecodeError and UnicodeDecodeError
            raise CrmApiError(
                f"{where}: HTTP {response.status_code} response is not valid JSON ({ctype})",
                status=response.status_code,
            ) from None
        if not isinstance(body, dict):
            raise CrmApiError(
                f"{where}: expected a JSON object, got {type(body).__name__} ({ctype})",
                status=response.status_code,
            )
        return body

    def _give_up_or_wait(
        self, attempt: int, where: str, reason: str, retry_after: float | None
    ) -> None:
        if attempt >= self.retry.max_attempts:
            status = int(reason[5:8]) if reason.startswith("HTTP ") else None
            raise CrmApiError(f"{where}: {reason}, gave up after {attempt} attempts", status=status)
        if retry_after is not None:
            delay = min(retry_after, self.retry.retry_after_cap)
        else:
            delay = min(self.retry.backoff_base * 2 ** (attempt - 1), self.retry.backoff_cap)
        self.usage.retries += 1
        log.info("%s: %s; retrying in %.2fs (attempt %d)", where, reason, delay, attempt)
        self._sleep(delay)


def json_list(body: dict[str, Any], key: str, where: str) -> list[Any]:
    """`body[key]` as a list: missing or null is an empty list, anything else is an error."""
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise CrmApiError(f"{where}: {key!r} is a {type(value).__name__}, expected a list")
    return value


class CursorGuard:
    """Stops paging that would never end: a next-page cursor seen before."""

    def __init__(self, where: str) -> None:
        self.where = where
        self._seen: set[str] = set()

    def check(self, cursor: object) -> None:
        key = str(cursor)
        if key in self._seen:
            raise CrmApiError(f"{self.where}: the next-page cursor repeated; paging would not end")
        self._seen.add(key)


def credential_label(what: str, source: str | None) -> str:
    """`what`, with where its value came from when the caller knows (never the value):
    ``the HubSpot token (env HUBSPOT_TOKEN)``. Connectors take these sources from their
    caller (`credential_sources`), which knows the settings; this package does not."""
    return f"{what} ({source})" if source else what


def clean_token(value: str, what: str) -> str:
    """A credential without surrounding whitespace; `CrmConfigError` (naming `what`, never the
    value) when it holds characters no HTTP header can carry."""
    token = value.strip()
    if not token:
        raise CrmConfigError(f"{what} is empty")
    if not all(" " < ch < "\x7f" for ch in token):
        raise CrmConfigError(
            f"{what} contains a space, control or non-ASCII character; copy it again"
        )
    return token


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait: Retry-After, else Pipedrive's x-ratelimit-reset (window remaining)."""
    value = response.headers.get("Retry-After")
    if value is None and response.status_code == 429:
        value = response.headers.get("x-ratelimit-reset")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


def _brief(response: httpx.Response) -> str:
    """A short, secret-free description of an error body (vendor message fields only)."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "error"
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]
    if isinstance(body, dict):
        parts = [
            str(body[key])
            for key in ("errorCode", "category", "error", "message", "error_description")
            if body.get(key)
        ]
        if parts:
            return "; ".join(parts)[:300]
    return response.reason_phrase or "error"
