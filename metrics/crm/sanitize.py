"""Make connector records safe to store, whatever the CRM sent.

PostgreSQL refuses NUL characters in text and strings longer than their column; either
would fail the whole page (and so the sync) for one bad record. Here, per record: NULs are
removed from every string; an identifier (the record's id, its owner's or deal's id) longer
than its column makes the record a `RecordProblem` (cutting it could merge two records);
free text longer than its column is cut to fit. Lone UTF-16 surrogates (from a bad JSON
escape such as ``"Jos\\ud83d"``) cannot be encoded for the database: each becomes U+FFFD.

Values the store cannot hold make the record a `RecordProblem` too, whichever connector
produced them: naive or implausible times (outside `parse.FIRST_YEAR`..`LAST_YEAR`), a
duration outside 0..7 days. `page` turns any unexpected error on one record into a problem
naming the record and the error class, so one odd record never stops a sync.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from typing import Any

from sqlalchemy import String

from metrics.crm import parse
from metrics.crm.records import Page, RecordProblem, StageEntry
from metrics.models import Activity, CrmUser, Deal, DealStageChange

MODELS: dict[str, Any] = {"owners": CrmUser, "deals": Deal, "activities": Activity}
ID_FIELDS = {"external_id": None, "owner_external_id": CrmUser, "deal_external_id": Deal}


@functools.cache
def _limit(model: Any, name: str) -> int | None:
    column = model.__table__.columns.get(name)
    if column is None or not isinstance(column.type, String):
        return None
    return column.type.length


_NAMES: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...]:
    """The field names of a record dataclass (`dataclasses.fields` costs ~4 µs a call)."""
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    value = value.replace("\x00", "")
    if not value.isascii():
        value = _SURROGATE.sub("\ufffd", value)
    return value


def _value_problem(rec: Any) -> str | None:
    """Why the store could not hold `rec`'s times or duration, or None."""
    for name in _names(type(rec)):
        value = getattr(rec, name)
        if isinstance(value, dt.date) and (reason := _time_problem(name, value)):
            return reason
    seconds = getattr(rec, "duration_seconds", None)
    if seconds is not None and not 0 <= seconds <= parse.MAX_DURATION_SECONDS:
        return f"duration_seconds {seconds} is not a plausible duration (0 to 7 days)"
    for entry in getattr(rec, "stage_history", None) or ():
        if reason := _time_problem("stage history time", entry.entered_at):
            return reason
    return None


def _time_problem(name: str, value: dt.date) -> str | None:
    """Why a day or instant cannot be stored: a time without a zone, or a year outside
    `parse.FIRST_YEAR`..`LAST_YEAR`."""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return f"{name} {value.isoformat()} has no time zone"
    if not parse.FIRST_YEAR <= value.year <= parse.LAST_YEAR:
        return f"{name} {value.isoformat()} is outside {parse.FIRST_YEAR}-{parse.LAST_YEAR}"
    return None


def record(obj: str, rec: Any) -> Any:
    """The record made storable, or a `RecordProblem` saying why it cannot be."""
    model = MODELS[obj]
    reason = _value_problem(rec)
    if reason is not None:
        return RecordProblem(obj, reason, _clean(rec.external_id)[:128])
    changes: dict[str, Any] = {}
    for name in _names(type(rec)):
        original = getattr(rec, name)
        if not isinstance(original, str):
            continue
        value = _clean(original)
        if name in ID_FIELDS:
            limit = _limit(ID_FIELDS[name] or model, "external_id")
            if limit is not None and len(value) > limit:
                ident = None if name == "external_id" else _clean(rec.external_id)[:limit]
                return RecordProblem(obj, f"{name} is longer than {limit} characters", ident)
        else:
            limit = _limit(model, name)
            if limit is not None and len(value) > limit:
                value = value[:limit]
        if value != original:
            changes[name] = value
    history = getattr(rec, "stage_history", None)
    if history:
        limit = _limit(DealStageChange, "stage") or 64
        changes["stage_history"] = tuple(
            StageEntry(_clean(e.stage)[:limit], e.entered_at) for e in history
        )
    return dataclasses.replace(rec, **changes) if changes else rec


def page(obj: str, batch: Page[Any]) -> Page[Any]:
    records: list[Any] = []
    problems = list(batch.problems)
    for rec in batch.records:
        try:
            result = record(obj, rec)
        except Exception as exc:  # a safety net: report the record, keep the page
            ident = getattr(rec, "external_id", None)
            reason = f"unusable record ({type(exc).__name__}: {str(exc)[:200]})"
            result = RecordProblem(
                obj, reason, _clean(ident)[:128] if isinstance(ident, str) else None
            )
        (problems if isinstance(result, RecordProblem) else records).append(result)
    return dataclasses.replace(batch, records=records, problems=problems)
