"""Salesforce REST connector (sync httpx, SOQL).

- Incremental on ``SystemModstamp`` with the record Id as tie-breaker:
  ``WHERE SystemModstamp > T OR (SystemModstamp = T AND Id > 'X') ORDER BY SystemModstamp, Id``
  so each batch's last row is a safe cursor. Batches follow ``nextRecordsUrl``.
- ``queryAll`` for Opportunity, Task and Event so deleted rows (``IsDeleted``) arrive as
  deletes; ``OpportunityHistory`` gives stage history for each batch of opportunities.
- Task kind from ``TaskSubtype`` (Call, Email/ListEmail) else ``Type``; call outcome from
  ``CallDisposition``. Event = meeting: ``booked_at`` CreatedDate, ``occurred_at`` start.
- ``CloseDate`` is a date: closed deals get ``closed_at`` at 12:00 UTC that day, which
  stays on the same calendar day in every zone from UTC-11 to UTC+11.
- OAuth refresh-token flow: a 401 refreshes the access token once and retries.
- ``Sforce-Limit-Info: api-usage=used/limit`` is reported in `usage()`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any

from metrics.crm import parse
from metrics.crm.errors import CrmApiError
from metrics.crm.http import (
    ApiClient,
    CursorGuard,
    RetryPolicy,
    clean_token,
    credential_label,
    json_list,
)
from metrics.crm.records import (
    ActivityRecord,
    Cursor,
    DealRecord,
    OwnerRecord,
    Page,
    RecordProblem,
    StageEntry,
)

USER_FIELDS = "Id, Name, Email, IsActive, SystemModstamp"
OPP_FIELDS = (
    "Id, Name, OwnerId, StageName, Amount, CloseDate, IsClosed, IsWon, Type, LeadSource, "
    "CreatedDate, SystemModstamp, IsDeleted"
)
TASK_FIELDS = (
    "Id, Subject, TaskSubtype, Type, Status, CallDisposition, CallType, CallDurationInSeconds, "
    "CompletedDateTime, OwnerId, WhatId, CreatedDate, SystemModstamp, IsDeleted"
)
EVENT_FIELDS = (
    "Id, Subject, Type, StartDateTime, DurationInMinutes, OwnerId, WhatId, CreatedDate, "
    "SystemModstamp, IsDeleted"
)
NOON = dt.time(12, 0, tzinfo=dt.UTC)


class SalesforceConnector:
    source = "salesforce"

    def __init__(
        self,
        *,
        instance_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        api_version: str = "v61.0",
        access_token: str | None = None,
        batch_size: int = 2000,
        multi_currency: bool = False,
        default_currency: str | None = "USD",
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        credential_sources: dict[str, str] | None = None,  # {"client_id": "env ...", ...}
    ) -> None:
        self.version = api_version if api_version.startswith("v") else f"v{api_version}"
        self.token_url = token_url
        sources = credential_sources or {}
        labels = {
            name: credential_label(f"the Salesforce {name.replace('_', ' ')}", sources.get(name))
            for name in ("refresh_token", "client_id", "client_secret")
        }
        self._credentials = {
            "grant_type": "refresh_token",
            "client_id": clean_token(client_id, labels["client_id"]),
            "client_secret": clean_token(client_secret, labels["client_secret"]),
            "refresh_token": clean_token(refresh_token, labels["refresh_token"]),
        }
        self.batch_size = batch_size
        self.multi_currency = multi_currency
        self.default_currency = default_currency
        self.api = ApiClient(
            name="salesforce",
            base_url=instance_url,
            headers={"Sforce-Query-Options": f"batchSize={batch_size}"},
            timeout=timeout,
            retry=retry,
            sleep=sleep,
            credential=", ".join(labels.values()) + " and the user's permissions",
        )
        self._token = access_token.strip() if access_token else None

    def usage(self) -> dict[str, Any]:
        return self.api.usage.as_dict()

    def close(self) -> None:
        self.api.close()

    # ---------------------------------------------------------------- auth + query
    def _refresh(self) -> bool:
        # the token endpoint refuses a bad refresh token or client with 400 (invalid_grant)
        response = self.api.request(
            "POST", self.token_url, data=self._credentials, refused=(400, 401, 403)
        )
        token = self.api.json(response).get("access_token")
        if not token:
            raise CrmApiError("salesforce token refresh returned no access_token")
        self._token = str(token)
        self.api.set_header("Authorization", f"Bearer {self._token}")
        self.api.usage.extra["token_refreshes"] = self.api.usage.extra.get("token_refreshes", 0) + 1
        return True

    def _get(self, url: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        if self._token is None:
            self._refresh()
        response = self.api.request("GET", url, params=params, on_unauthorized=self._refresh)
        info = response.headers.get("Sforce-Limit-Info", "")
        if info.startswith("api-usage="):
            used, _, limit = info.split("=", 1)[1].partition("/")
            self.api.usage.extra["daily_api_usage"] = {"used": int(used), "limit": int(limit)}
        return self.api.json(response)

    def _query(self, soql: str, *, include_deleted: bool = False) -> Iterator[list[dict[str, Any]]]:
        resource = "queryAll" if include_deleted else "query"
        path = f"/services/data/{self.version}/{resource}"
        body = self._get(path, {"q": soql})
        guard = CursorGuard(f"salesforce GET {path} (nextRecordsUrl)")
        while True:
            yield list(json_list(body, "records", f"salesforce GET {path}"))
            next_url = body.get("nextRecordsUrl")
            if body.get("done", True) or not next_url:
                return
            guard.check(next_url)
            body = self._get(str(next_url))

    def _incremental(
        self, obj: str, fields: str, position: dict[str, Any], *, include_deleted: bool
    ) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any]]]:
        where = ""
        if position.get("ts"):
            ts = position["ts"]
            where = f" WHERE SystemModstamp > {ts}"
            if position.get("id"):
                where += f" OR (SystemModstamp = {ts} AND Id > '{_soql_id(position['id'])}')"
        soql = f"SELECT {fields} FROM {obj}{where} ORDER BY SystemModstamp, Id"
        pos = dict(position)
        for records in self._query(soql, include_deleted=include_deleted):
            # The last row with a usable SystemModstamp and Id; rows without one are
            # reported as problems by the caller and must not stop the batch.
            for last in reversed(records):
                if not isinstance(last, dict):
                    continue
                try:
                    ts = _soql_ts(last.get("SystemModstamp"))
                    _soql_id(str(last.get("Id") or ""))
                except (parse.BadValue, CrmApiError):
                    continue
                pos = {"ts": ts, "id": last.get("Id")}
                break
            yield records, dict(pos)

    # ---------------------------------------------------------------- objects
    def owners(self, cursor: Cursor) -> Iterator[Page[OwnerRecord]]:
        for records, pos in self._incremental(
            "User", USER_FIELDS, _pos(cursor), include_deleted=False
        ):
            out, problems = [], []
            for raw in records:
                try:
                    out.append(
                        OwnerRecord(
                            str(raw["Id"]),
                            raw.get("Email"),
                            raw.get("Name"),
                            parse.flag(raw.get("IsActive")),
                            parse.instant(raw.get("SystemModstamp"), "SystemModstamp"),
                        )
                    )
                except (parse.BadValue, KeyError) as exc:
                    problems.append(_problem("owners", raw, exc))
            yield Page(out, _cursor(pos, cursor.state), problems)

    def deals(self, cursor: Cursor) -> Iterator[Page[DealRecord]]:
        fields = OPP_FIELDS + (", CurrencyIsoCode" if self.multi_currency else "")
        for records, pos in self._incremental(
            "Opportunity", fields, _pos(cursor), include_deleted=True
        ):
            out, problems = [], []
            for raw in records:
                try:
                    out.append(self._deal(raw))
                except (parse.BadValue, KeyError, TypeError) as exc:
                    problems.append(_problem("deals", raw, exc))
            histories = self._histories([d.external_id for d in out if not d.deleted])
            out = [_with_history(d, histories.get(d.external_id)) for d in out]
            yield Page(out, _cursor(pos, cursor.state), problems)

    def _deal(self, raw: dict[str, Any]) -> DealRecord:
        closed = parse.flag(raw.get("IsClosed"))
        close_date = parse.day(raw.get("CloseDate"), "CloseDate")
        created = parse.instant(raw.get("CreatedDate"), "CreatedDate")
        modified = parse.instant(raw.get("SystemModstamp"), "SystemModstamp")
        assert created is not None and modified is not None
        return DealRecord(
            external_id=str(raw["Id"]),
            owner_external_id=raw.get("OwnerId"),
            created_at=created,
            modified_at=modified,
            name=raw.get("Name"),
            stage=raw.get("StageName"),
            amount=parse.money(raw.get("Amount"), "Amount"),
            currency=parse.currency(raw.get("CurrencyIsoCode"), self.default_currency),
            deal_type=parse.deal_type(raw.get("Type")),
            lead_source=raw.get("LeadSource"),
            close_date=close_date,
            closed_at=dt.datetime.combine(close_date, NOON) if closed and close_date else None,
            is_closed=closed,
            is_won=closed and parse.flag(raw.get("IsWon")),
            deleted=parse.flag(raw.get("IsDeleted")),
        )

    def _histories(self, ids: list[str]) -> dict[str, tuple[StageEntry, ...]]:
        found: dict[str, list[StageEntry]] = {}
        for start in range(0, len(ids), 200):
            quoted = ", ".join(f"'{_soql_id(i)}'" for i in ids[start : start + 200])
            soql = (
                "SELECT OpportunityId, StageName, CreatedDate FROM OpportunityHistory "
                f"WHERE OpportunityId IN ({quoted}) ORDER BY OpportunityId, CreatedDate"
            )
            for records in self._query(soql):
                for raw in records:
                    try:
                        at = parse.instant(raw.get("CreatedDate"), "CreatedDate")
                    except parse.BadValue:
                        continue
                    if at is not None and raw.get("StageName"):
                        found.setdefault(str(raw["OpportunityId"]), []).append(
                            StageEntry(str(raw["StageName"]), at)
                        )
        return {k: tuple(_changes(v)) for k, v in found.items()}

    def activities(self, cursor: Cursor) -> Iterator[Page[ActivityRecord]]:
        state = dict(cursor.state or {})
        for obj, fields, convert in (("Task", TASK_FIELDS, _task), ("Event", EVENT_FIELDS, _event)):
            position = state.get(obj) or {}
            for records, pos in self._incremental(obj, fields, position, include_deleted=True):
                out, problems = [], []
                for raw in records:
                    try:
                        out.append(convert(raw))
                    except (parse.BadValue, KeyError, TypeError) as exc:
                        problems.append(_problem(obj, raw, exc))
                state[obj] = pos
                yield Page(out, _cursor(pos, state), problems)


def _soql_ts(value: Any) -> str:
    moment = parse.instant(value, "SystemModstamp")
    assert moment is not None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _soql_id(value: str) -> str:
    if not value.isalnum():
        raise CrmApiError(f"salesforce: unexpected record id {value[:40]!r}")
    return value


def _pos(cursor: Cursor) -> dict[str, Any]:
    if cursor.modified_at is None:
        return {}
    return {"ts": _soql_ts(cursor.modified_at.isoformat()), "id": cursor.external_id}


def _cursor(pos: dict[str, Any], state: dict[str, Any] | None) -> Cursor:
    at = parse.instant(pos.get("ts"), "ts", required=False)
    return Cursor(at, pos.get("id"), dict(state) if state else None)


def _changes(entries: list[StageEntry]) -> list[StageEntry]:
    """History rows are written on any change; keep those where the stage changed."""
    out: list[StageEntry] = []
    for entry in sorted(entries, key=lambda e: e.entered_at):
        if not out or out[-1].stage != entry.stage:
            out.append(entry)
    return out


def _with_history(deal: DealRecord, history: tuple[StageEntry, ...] | None) -> DealRecord:
    if not history:
        return deal
    from dataclasses import replace

    return replace(deal, stage_history=history)


def _problem(obj: str, raw: Any, exc: Exception) -> RecordProblem:
    ident = raw.get("Id") if isinstance(raw, dict) else None
    reason = (
        str(exc) if isinstance(exc, parse.BadValue) else f"malformed record ({type(exc).__name__})"
    )
    return RecordProblem(obj, reason, ident, f"salesforce {obj} query")


def _task(raw: dict[str, Any]) -> ActivityRecord:
    subtype = (raw.get("TaskSubtype") or "").lower()
    task_type = (raw.get("Type") or "").lower()
    if subtype == "call" or (subtype in ("", "task") and task_type == "call"):
        kind = "call"
    elif subtype in ("email", "listemail") or (subtype in ("", "task") and task_type == "email"):
        kind = "email"
    else:
        kind = "task"
    modified = parse.instant(raw.get("SystemModstamp"), "SystemModstamp")
    created = parse.instant(raw.get("CreatedDate"), "CreatedDate")
    done = parse.instant(raw.get("CompletedDateTime"), "CompletedDateTime", required=False)
    assert modified is not None and created is not None
    what = raw.get("WhatId")
    return ActivityRecord(
        external_id=str(raw["Id"]),
        kind=kind,
        owner_external_id=raw.get("OwnerId"),
        occurred_at=done or created,
        modified_at=modified,
        outcome=parse.call_outcome(raw.get("CallDisposition")) if kind == "call" else None,
        direction=parse.direction(raw.get("CallType"))
        if kind == "call"
        else ("outbound" if kind == "email" else None),
        duration_seconds=parse.integer(raw.get("CallDurationInSeconds"), "CallDurationInSeconds"),
        deal_external_id=what if isinstance(what, str) and what.startswith("006") else None,
        subject=raw.get("Subject"),
        deleted=parse.flag(raw.get("IsDeleted")),
    )


def _event(raw: dict[str, Any]) -> ActivityRecord:
    modified = parse.instant(raw.get("SystemModstamp"), "SystemModstamp")
    created = parse.instant(raw.get("CreatedDate"), "CreatedDate")
    start = parse.instant(raw.get("StartDateTime"), "StartDateTime")
    assert modified is not None and created is not None and start is not None
    minutes = parse.integer(raw.get("DurationInMinutes"), "DurationInMinutes")
    what = raw.get("WhatId")
    label = f"{raw.get('Subject') or ''} {raw.get('Type') or ''}"
    outcome = (
        parse.meeting_outcome(label)
        if ("cancel" in label.lower() or "no show" in label.lower())
        else "scheduled"
    )
    return ActivityRecord(
        external_id=str(raw["Id"]),
        kind="meeting",
        owner_external_id=raw.get("OwnerId"),
        occurred_at=start,
        modified_at=modified,
        booked_at=created,
        outcome=outcome,
        duration_seconds=minutes * 60 if minutes is not None else None,
        deal_external_id=what if isinstance(what, str) and what.startswith("006") else None,
        subject=raw.get("Subject"),
        deleted=parse.flag(raw.get("IsDeleted")),
    )
