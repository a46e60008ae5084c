"""Pipedrive connector (sync httpx): users (v1), deals and activities (v2).

- ``GET /v1/users`` for owners (``active_flag``).
- ``GET /api/v2/deals`` and ``/api/v2/activities`` with ``updated_since`` (the cursor),
  ``sort_by=update_time&sort_direction=asc`` and cursor pagination
  (``additional_data.next_cursor``). Deals ask for ``status=open,won,lost,deleted`` so
  deletions (kept 30 days by Pipedrive) arrive as deletes. ``updated_since`` is inclusive:
  ties at the cursor are re-read and skipped by the engine as unchanged.
- Stage names from ``GET /api/v2/stages`` (ids when a stage is unknown).
- Limits: a client-side burst budget (default 20 requests per 2 s, the Lite API-token
  plan) and 429 handling with ``x-ratelimit-reset`` (Pipedrive sends no Retry-After).
- Pipedrive has no call outcome field: calls are stored with outcome None; meetings are
  ``completed`` when marked done, else ``scheduled``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from metrics.crm import parse
from metrics.crm.http import (
    ApiClient,
    CursorGuard,
    RateBudget,
    RetryPolicy,
    clean_token,
    credential_label,
    json_list,
)
from metrics.crm.records import ActivityRecord, Cursor, DealRecord, OwnerRecord, Page, RecordProblem

log = logging.getLogger(__name__)
KINDS = {"call": "call", "meeting": "meeting", "email": "email"}


class PipedriveConnector:
    source = "pipedrive"

    def __init__(
        self,
        *,
        token: str,
        base_url: str = "https://api.pipedrive.com",
        page_size: int = 500,
        burst: int = 20,
        burst_seconds: float = 2.0,
        default_currency: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        credential_sources: dict[str, str] | None = None,  # {"token": "env PIPEDRIVE_TOKEN"}
    ) -> None:
        self.page_size = min(page_size, 500)
        self.default_currency = default_currency
        label = credential_label("the Pipedrive API token", (credential_sources or {}).get("token"))
        self.api = ApiClient(
            name="pipedrive",
            base_url=base_url,
            headers={"x-api-token": clean_token(token, label)},
            timeout=timeout,
            credential=label,
            retry=retry,
            sleep=sleep,
        )
        self._burst = RateBudget(burst, burst_seconds, sleep=sleep, monotonic=monotonic)
        self._stages: dict[str, str] | None = None

    def usage(self) -> dict[str, Any]:
        return self.api.usage.as_dict()

    def close(self) -> None:
        self.api.close()

    def _get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.api.request("GET", path, params=params, budgets=(self._burst,))
        return self.api.json(response)

    # ---------------------------------------------------------------- objects
    def owners(self, cursor: Cursor) -> Iterator[Page[OwnerRecord]]:
        body = self._get("/v1/users")
        records, problems = [], []
        latest = cursor
        for raw in json_list(body, "data", "pipedrive GET /v1/users"):
            try:
                modified = parse.instant(raw.get("modified"), "modified", required=False)
                owner = OwnerRecord(
                    str(raw["id"]),
                    raw.get("email"),
                    raw.get("name"),
                    parse.flag(raw.get("active_flag")),
                    modified,
                )
            except (parse.BadValue, KeyError, TypeError) as exc:
                problems.append(_problem("owners", raw, exc, "GET /v1/users"))
                continue
            records.append(owner)
            if modified and (latest.modified_at is None or modified > latest.modified_at):
                latest = Cursor(modified, owner.external_id)
        yield Page(records, latest, problems)

    def deals(self, cursor: Cursor) -> Iterator[Page[DealRecord]]:
        stages = self._stage_names()
        params = {"status": "open,won,lost,deleted"}
        for rows, pos in self._pages("/api/v2/deals", params, cursor):
            records, problems = [], []
            for raw in rows:
                try:
                    records.append(self._deal(raw, stages))
                except (parse.BadValue, KeyError, TypeError) as exc:
                    problems.append(_problem("deals", raw, exc, "GET /api/v2/deals"))
            yield Page(records, pos, problems)

    def activities(self, cursor: Cursor) -> Iterator[Page[ActivityRecord]]:
        for rows, pos in self._pages("/api/v2/activities", {}, cursor):
            records, problems = [], []
            for raw in rows:
                try:
                    records.append(_activity(raw))
                except (parse.BadValue, KeyError, TypeError) as exc:
                    problems.append(_problem("activities", raw, exc, "GET /api/v2/activities"))
            yield Page(records, pos, problems)

    # ---------------------------------------------------------------- paging
    def _pages(
        self, path: str, extra: dict[str, Any], cursor: Cursor
    ) -> Iterator[tuple[list[dict[str, Any]], Cursor]]:
        params: dict[str, Any] = {
            **extra,
            "sort_by": "update_time",
            "sort_direction": "asc",
            "limit": self.page_size,
        }
        if cursor.modified_at is not None:
            params["updated_since"] = cursor.modified_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        position = cursor
        guard = CursorGuard(f"pipedrive GET {path}")
        while True:
            body = self._get(path, params)
            rows = [
                r for r in json_list(body, "data", f"pipedrive GET {path}") if isinstance(r, dict)
            ]
            for raw in rows:
                try:
                    at = parse.instant(raw.get("update_time"), "update_time")
                except parse.BadValue:
                    continue
                if at is not None and (position.modified_at is None or at >= position.modified_at):
                    position = Cursor(at, str(raw.get("id")), cursor.state)
            yield rows, position
            nxt = (body.get("additional_data") or {}).get("next_cursor")
            if not nxt:
                return  # an empty page with a next cursor is followed, not taken as the end
            guard.check(nxt)
            params["cursor"] = nxt

    def _stage_names(self) -> dict[str, str]:
        if self._stages is None:
            body = self._get("/api/v2/stages", {"limit": 500})
            self._stages = {
                str(s["id"]): str(s.get("name") or s["id"])
                for s in body.get("data") or []
                if isinstance(s, dict) and "id" in s
            }
        return self._stages

    def _deal(self, raw: dict[str, Any], stages: dict[str, str]) -> DealRecord:
        status = str(raw.get("status") or "open")
        closed = status in ("won", "lost")
        created = parse.instant(raw.get("add_time"), "add_time")
        modified = parse.instant(raw.get("update_time"), "update_time")
        assert created is not None and modified is not None
        closed_at = parse.instant(
            raw.get("won_time") or raw.get("lost_time") or raw.get("close_time"),
            "close_time",
            required=False,
        )
        try:
            expected = parse.day(raw.get("expected_close_date"), "expected_close_date")
        except parse.BadValue as exc:  # optional ("0000-00-00"): keep the deal without it
            log.warning("pipedrive deal %s: %s; stored without it", raw.get("id"), exc)
            expected = None
        stage_id = raw.get("stage_id")
        return DealRecord(
            external_id=str(raw["id"]),
            owner_external_id=_id(raw.get("owner_id")),
            created_at=created,
            modified_at=modified,
            name=raw.get("title"),
            pipeline=_id(raw.get("pipeline_id")),
            stage=stages.get(str(stage_id), str(stage_id)) if stage_id is not None else status,
            amount=parse.money(raw.get("value"), "value"),
            currency=parse.currency(raw.get("currency"), self.default_currency),
            close_date=closed_at.date() if closed and closed_at else expected,
            closed_at=closed_at if closed else None,
            is_closed=closed,
            is_won=status == "won",
            deleted=status == "deleted" or parse.flag(raw.get("is_deleted")),
            stage_changed_at=parse.instant(
                raw.get("stage_change_time"), "stage_change_time", required=False
            ),
        )


def _id(value: Any) -> str | None:
    if isinstance(value, dict):  # v1 shapes nest ids as {"value": 123, ...}
        value = value.get("value") or value.get("id")
    return None if value in (None, "") else str(value)


def _problem(obj: str, raw: Any, exc: Exception, where: str) -> RecordProblem:
    ident = raw.get("id") if isinstance(raw, dict) else None
    reason = (
        str(exc) if isinstance(exc, parse.BadValue) else f"malformed record ({type(exc).__name__})"
    )
    return RecordProblem(
        obj, reason, str(ident) if ident is not None else None, f"pipedrive {where}"
    )


def _duration(value: Any, ident: Any) -> int | None:
    """Seconds from Pipedrive's "HH:MM"; an unreadable duration is missing (None)."""
    if not isinstance(value, str) or ":" not in value:
        return None
    hours, _, minutes = value.partition(":")
    try:
        return int(hours or 0) * 3600 + int(minutes[:2] or 0) * 60
    except ValueError:
        log.warning(
            "pipedrive activity %s: duration %r unreadable; stored without it", ident, value[:20]
        )
        return None


def _activity(raw: dict[str, Any]) -> ActivityRecord:
    kind = KINDS.get(str(raw.get("type") or "").lower(), "task")
    added = parse.instant(raw.get("add_time"), "add_time")
    modified = parse.instant(raw.get("update_time"), "update_time")
    assert added is not None and modified is not None
    due_date = raw.get("due_date")
    occurred = None
    if due_date:
        due_time = raw.get("due_time") or "00:00"
        occurred = parse.instant(f"{due_date}T{due_time}", "due_date")
    occurred = (
        occurred
        or parse.instant(raw.get("marked_as_done_time"), "marked_as_done_time", required=False)
        or added
    )
    done = parse.flag(raw.get("done"))
    duration = _duration(raw.get("duration"), raw.get("id"))
    return ActivityRecord(
        external_id=str(raw["id"]),
        kind=kind,
        owner_external_id=_id(raw.get("owner_id") or raw.get("user_id")),
        occurred_at=occurred,
        modified_at=modified,
        booked_at=added if kind == "meeting" else None,
        outcome=("completed" if done else "scheduled") if kind == "meeting" else None,
        duration_seconds=duration,
        deal_external_id=_id(raw.get("deal_id")),
        subject=raw.get("subject"),
        deleted=parse.flag(raw.get("is_deleted")),
    )
