"""HubSpot records: turning CRM v3 objects (owners, engagements) into normalized records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from metrics.crm import parse
from metrics.crm.records import ActivityRecord, DealRecord, OwnerRecord, RecordProblem, StageEntry


def str_or_none(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def problem(obj: str, raw: Any, exc: Exception, where: str) -> RecordProblem:
    ident = raw.get("id") if isinstance(raw, dict) else None
    reason = (
        str(exc) if isinstance(exc, parse.BadValue) else f"malformed record ({type(exc).__name__})"
    )
    return RecordProblem(obj, reason, str(ident) if ident is not None else None, f"hubspot {where}")


def owner(raw: dict[str, Any], archived: bool) -> OwnerRecord:
    if not raw.get("id"):
        raise parse.BadValue("owner without id")
    name = " ".join(x for x in (raw.get("firstName"), raw.get("lastName")) if x) or None
    modified = parse.instant(raw.get("updatedAt"), "updatedAt", required=False)
    return OwnerRecord(str(raw["id"]), raw.get("email"), name, not archived, modified)


def with_history(record: DealRecord, history: tuple[StageEntry, ...] | None) -> DealRecord:
    if not history:
        return record
    return replace(record, stage_history=history)


def archived_activity(kind: str) -> Callable[[dict[str, Any]], ActivityRecord]:
    def convert(raw: dict[str, Any]) -> ActivityRecord:
        return activity(kind, raw, True)

    return convert


def activity(kind: str, raw: dict[str, Any], archived: bool) -> ActivityRecord:
    p = raw.get("properties") or {}
    modified = parse.instant(
        p.get("hs_lastmodifieddate") or raw.get("updatedAt"), "hs_lastmodifieddate"
    )
    if archived and raw.get("archivedAt"):
        modified = parse.instant(raw.get("archivedAt"), "archivedAt")
    occurred = parse.instant(p.get("hs_timestamp") or p.get("hs_createdate"), "hs_timestamp")
    assert modified is not None and occurred is not None
    booked = outcome = direction = subject = None
    duration = None
    if kind == "call":
        outcome = parse.call_outcome(p.get("hs_call_disposition") or p.get("hs_call_status"))
        direction = parse.direction(p.get("hs_call_direction"))
        ms = parse.integer(p.get("hs_call_duration"), "hs_call_duration")
        duration = ms // 1000 if ms is not None else None
        subject = p.get("hs_call_title")
    elif kind == "email":
        direction = parse.direction(p.get("hs_email_direction"))
        subject = p.get("hs_email_subject")
    elif kind == "meeting":
        booked = parse.instant(p.get("hs_createdate") or raw.get("createdAt"), "hs_createdate")
        start = parse.instant(
            p.get("hs_meeting_start_time"), "hs_meeting_start_time", required=False
        )
        occurred = start or occurred
        outcome = parse.meeting_outcome(p.get("hs_meeting_outcome")) or "scheduled"
        subject = p.get("hs_meeting_title")
    else:
        subject = p.get("hs_task_subject")
    if not raw.get("id"):
        raise parse.BadValue("record without id")
    return ActivityRecord(
        external_id=f"{kind}:{raw['id']}",
        kind=kind,
        owner_external_id=str_or_none(p.get("hubspot_owner_id")),
        occurred_at=occurred,
        modified_at=modified,
        booked_at=booked,
        outcome=outcome,
        direction=direction,
        duration_seconds=duration,
        subject=subject,
        deleted=archived or bool(raw.get("archived")),
    )
