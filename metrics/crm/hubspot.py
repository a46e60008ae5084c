"""HubSpot CRM v3 connector (sync httpx).

- owners: ``GET /crm/v3/owners`` paged by ``paging.next.after`` (active, then archived as
  inactive).
- deals, calls, emails, meetings, tasks: ``POST /crm/v3/objects/{type}/search`` sorted by
  ``hs_lastmodifieddate`` (one sort: HubSpot's limit), each page a new search
  ``modified >= T`` from the newest time seen, so a record edited mid-run moves later
  instead of shifting an offset past another one; more rows at one time than a page holds
  (a tie block) are read by ``hs_object_id`` at that time, past the 10,000-result cap
  (`hubspot_search`, which explains why). The first search of a run starts at the cursor
  minus the lookback; rows re-read are skipped by the engine as unchanged.
- deal stage history: ``POST /crm/v3/objects/deals/batch/read`` with
  ``propertiesWithHistory=dealstage`` for each page.
- archived deals/engagements (search never returns them): ``GET /crm/v3/objects/{type}?
  archived=true``, stored as deleted when archived after the last pass.
- limits: a rolling 10-second budget for ordinary calls and a per-second budget for search
  (search is exempt from the 10-second one); 429s honour Retry-After.
"""

from __future__ import annotations

import datetime as dt
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
from metrics.crm.hubspot_records import (
    activity,
    archived_activity,
    owner,
    problem,
    str_or_none,
    with_history,
)
from metrics.crm.hubspot_search import next_after, search_pages
from metrics.crm.records import (
    ActivityRecord,
    Cursor,
    DealRecord,
    OwnerRecord,
    Page,
    StageEntry,
)

log = logging.getLogger(__name__)

DEAL_PROPS = [
    "dealname",
    "amount",
    "deal_currency_code",
    "dealstage",
    "pipeline",
    "closedate",
    "createdate",
    "hs_lastmodifieddate",
    "hubspot_owner_id",
    "hs_is_closed",
    "hs_is_closed_won",
    "dealtype",
    "hs_analytics_source",
]
ENGAGEMENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "calls": (
        "call",
        (
            "hs_call_disposition",
            "hs_call_status",
            "hs_call_direction",
            "hs_call_duration",
            "hs_call_title",
        ),
    ),
    "emails": ("email", ("hs_email_direction", "hs_email_subject")),
    "meetings": ("meeting", ("hs_meeting_start_time", "hs_meeting_outcome", "hs_meeting_title")),
    "tasks": ("task", ("hs_task_subject", "hs_task_status")),
}
COMMON_PROPS = ("hs_timestamp", "hs_createdate", "hs_lastmodifieddate", "hubspot_owner_id")


class HubSpotConnector:
    source = "hubspot"

    def __init__(
        self,
        *,
        token: str,
        base_url: str = "https://api.hubapi.com",
        page_size: int = 200,
        search_cap: int = 10_000,
        default_currency: str | None = "USD",
        ten_second_limit: int = 100,
        search_per_second: int = 4,
        lookback: dt.timedelta = dt.timedelta(minutes=1),
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        credential_sources: dict[str, str] | None = None,  # {"token": "env HUBSPOT_TOKEN"}
    ) -> None:
        self.page_size = min(page_size, 200)
        self.search_cap = search_cap
        self.default_currency = default_currency
        self.lookback = lookback
        source = (credential_sources or {}).get("token")
        token = clean_token(token, credential_label("the HubSpot token", source))
        check = credential_label("the HubSpot private app token", source) + " and its scopes"
        self.api = ApiClient(
            name="hubspot",
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            credential=check,
            retry=retry,
            sleep=sleep,
        )
        self._ten_second = RateBudget(ten_second_limit, 10.0, sleep=sleep, monotonic=monotonic)
        self._search = RateBudget(search_per_second, 1.0, sleep=sleep, monotonic=monotonic)

    def usage(self) -> dict[str, Any]:
        return self.api.usage.as_dict()

    def close(self) -> None:
        self.api.close()

    # ---------------------------------------------------------------- owners
    def owners(self, cursor: Cursor) -> Iterator[Page[OwnerRecord]]:
        latest = cursor
        for archived in (False, True):
            after: str | None = None
            guard = CursorGuard("hubspot GET /crm/v3/owners")
            while True:
                params: dict[str, Any] = {"limit": 100, "archived": str(archived).lower()}
                if after:
                    params["after"] = after
                body = self._get("/crm/v3/owners", params)
                records, problems = [], []
                for raw in json_list(body, "results", "hubspot GET /crm/v3/owners"):
                    try:
                        record = owner(raw, archived)
                    except parse.BadValue as exc:
                        problems.append(problem("owners", raw, exc, "GET /crm/v3/owners"))
                        continue
                    records.append(record)
                    if record.modified_at and (
                        latest.modified_at is None or record.modified_at > latest.modified_at
                    ):
                        latest = Cursor(record.modified_at, record.external_id)
                yield Page(records, latest, problems)
                after = next_after(body)
                if not after:
                    break
                guard.check(after)

    # ---------------------------------------------------------------- deals
    def deals(self, cursor: Cursor) -> Iterator[Page[DealRecord]]:
        state = dict(cursor.state or {})
        position = _position(state.get("deals"), cursor)
        for results, pos in self._search_pages("deals", DEAL_PROPS, position):
            records, problems = [], []
            good: list[tuple[dict[str, Any], str]] = []
            for raw in results:
                try:
                    records.append(self._deal(raw, None))
                    good.append((raw, raw["id"]))
                except (parse.BadValue, KeyError, TypeError) as exc:
                    problems.append(problem("deals", raw, exc, "POST deals/search"))
            histories = self._stage_histories([i for _, i in good])
            records = [with_history(r, histories.get(r.external_id)) for r in records]
            state["deals"] = pos
            yield Page(records, _cursor(pos, state), problems)
        yield from self._archived("deals", DEAL_PROPS, state, lambda raw: self._deal(raw, True))

    def _deal(self, raw: dict[str, Any], archived: bool | None) -> DealRecord:
        p = raw.get("properties") or {}
        closed = parse.flag(p.get("hs_is_closed"))
        won = parse.flag(p.get("hs_is_closed_won"))
        stage = p.get("dealstage")
        if p.get("hs_is_closed") is None and stage in ("closedwon", "closedlost"):
            closed, won = True, stage == "closedwon"
        try:
            close = parse.instant(p.get("closedate"), "closedate", required=False)
        except parse.BadValue as exc:  # optional: keep the deal without a close date
            log.warning("hubspot deal %s: %s; stored without it", raw.get("id"), exc)
            close = None
        modified = parse.instant(
            p.get("hs_lastmodifieddate") or raw.get("updatedAt"), "hs_lastmodifieddate"
        )
        deleted = bool(archived or raw.get("archived"))
        if deleted and raw.get("archivedAt"):
            modified = parse.instant(raw.get("archivedAt"), "archivedAt")
        assert modified is not None
        created = parse.instant(p.get("createdate") or raw.get("createdAt"), "createdate")
        assert created is not None
        return DealRecord(
            external_id=str(raw["id"]),
            owner_external_id=str_or_none(p.get("hubspot_owner_id")),
            created_at=created,
            modified_at=modified,
            name=p.get("dealname"),
            pipeline=p.get("pipeline"),
            stage=stage,
            amount=parse.money(p.get("amount"), "amount"),
            currency=parse.currency(p.get("deal_currency_code"), self.default_currency),
            deal_type=parse.deal_type(p.get("dealtype")),
            lead_source=p.get("hs_analytics_source"),
            close_date=close.date() if close else None,
            closed_at=close if closed else None,
            is_closed=closed,
            is_won=closed and won,
            deleted=deleted,
        )

    def _stage_histories(self, ids: list[str]) -> dict[str, tuple[StageEntry, ...]]:
        out: dict[str, tuple[StageEntry, ...]] = {}
        for start in range(0, len(ids), 100):
            body = self._post(
                "/crm/v3/objects/deals/batch/read",
                {
                    "properties": ["dealstage"],
                    "propertiesWithHistory": ["dealstage"],
                    "inputs": [{"id": i} for i in ids[start : start + 100]],
                },
                search=False,
            )
            for result in json_list(body, "results", "hubspot POST deals/batch/read"):
                entries = []
                for version in (result.get("propertiesWithHistory") or {}).get("dealstage", []):
                    try:
                        at = parse.instant(version.get("timestamp"), "timestamp")
                    except parse.BadValue:
                        continue
                    if version.get("value") and at is not None:
                        entries.append(StageEntry(str(version["value"]), at))
                out[str(result.get("id"))] = tuple(sorted(entries, key=lambda e: e.entered_at))
        return out

    # ---------------------------------------------------------------- activities
    def activities(self, cursor: Cursor) -> Iterator[Page[ActivityRecord]]:
        state = dict(cursor.state or {})
        for object_type, (kind, props) in ENGAGEMENTS.items():
            position = _position(state.get(object_type), None)
            wanted = (*COMMON_PROPS, *props)
            for results, pos in self._search_pages(object_type, wanted, position):
                records, problems = [], []
                for raw in results:
                    try:
                        records.append(activity(kind, raw, False))
                    except (parse.BadValue, KeyError, TypeError) as exc:
                        problems.append(
                            problem(object_type, raw, exc, f"POST {object_type}/search")
                        )
                state[object_type] = pos
                yield Page(records, _cursor(pos, state), problems)
            yield from self._archived(object_type, wanted, state, archived_activity(kind))

    # ---------------------------------------------------------------- search windows
    def _search_pages(
        self, object_type: str, props: tuple[str, ...] | list[str], position: dict[str, Any]
    ) -> Iterator[tuple[list[Any], dict[str, Any]]]:
        """Search pages from `position`: time windows, tie blocks by id (`hubspot_search`)."""
        path = f"/crm/v3/objects/{object_type}/search"
        return search_pages(
            lambda body: self._post(path, body, search=True),
            path=path,
            object_type=object_type,
            props=props,
            position=position,
            page_size=self.page_size,
            search_cap=self.search_cap,
            lookback_ms=int(self.lookback.total_seconds() * 1000),
        )

    def _archived(
        self,
        object_type: str,
        props: tuple[str, ...] | list[str],
        state: dict[str, Any],
        convert: Callable[[dict[str, Any]], Any],
    ) -> Iterator[Page[Any]]:
        """Archived objects since the last pass, as deleted records (one final cursor)."""
        key = f"{object_type}_archived_ms"
        since = int(state.get(key) or 0)
        newest = since
        after: str | None = None
        guard = CursorGuard(f"hubspot GET /crm/v3/objects/{object_type}?archived")
        while True:
            params: dict[str, Any] = {
                "archived": "true",
                "limit": 100,
                "properties": ",".join(props),
            }
            if after:
                params["after"] = after
            body = self._get(f"/crm/v3/objects/{object_type}", params)
            records, problems = [], []
            for raw in json_list(body, "results", f"hubspot GET {object_type}?archived"):
                try:
                    archived_at = parse.instant(raw.get("archivedAt"), "archivedAt")
                    assert archived_at is not None
                    ms = int(archived_at.timestamp() * 1000)
                    if ms > since:
                        records.append(convert(raw))
                        newest = max(newest, ms)
                except (parse.BadValue, KeyError, TypeError) as exc:
                    problems.append(problem(object_type, raw, exc, f"GET {object_type}?archived"))
            after = next_after(body)
            if after:
                guard.check(after)
            else:
                state[key] = newest
            yield Page(records, _cursor(state.get(object_type) or {}, state), problems)
            if not after:
                return

    # ---------------------------------------------------------------- HTTP
    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        response = self.api.request("GET", path, params=params, budgets=(self._ten_second,))
        return self.api.json(response)

    def _post(self, path: str, body: dict[str, Any], *, search: bool) -> dict[str, Any]:
        budgets = (self._search,) if search else (self._ten_second,)
        response = self.api.request("POST", path, json=body, budgets=budgets)
        return self.api.json(response)


def _position(value: Any, cursor: Cursor | None) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if cursor is not None and cursor.modified_at is not None:
        return {"ms": int(cursor.modified_at.timestamp() * 1000), "id": cursor.external_id}
    return {}


def _cursor(pos: dict[str, Any], state: dict[str, Any]) -> Cursor:
    ms = pos.get("ms")
    at = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC) if ms is not None else None
    return Cursor(at, pos.get("id"), dict(state))
