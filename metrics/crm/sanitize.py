"""Make connector records safe to store, whatever the CRM sent.

PostgreSQL refuses NUL characters in text and strings longer than their column; either
would fail the whole page (and so the sync) for one bad record. Here, per record: NULs are
removed from every string; an identifier (the record's id, its owner's or deal's id) longer
than its column makes the record a `RecordProblem` (cutting it could merge two records);
free text longer than its column is cut to fit.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import String

from metrics.crm.records import Page, RecordProblem, StageEntry
from metrics.models import Activity, CrmUser, Deal, DealStageChange

MODELS: dict[str, Any] = {"owners": CrmUser, "deals": Deal, "activities": Activity}
ID_FIELDS = {"external_id": None, "owner_external_id": CrmUser, "deal_external_id": Deal}


def _limit(model: Any, name: str) -> int | None:
    column = model.__table__.columns.get(name)
    if column is None or not isinstance(column.type, String):
        return None
    return column.type.length


def _clean(value: Any) -> Any:
    return value.replace("\x00", "") if isinstance(value, str) else value


def record(obj: str, rec: Any) -> Any:
    """The record made storable, or a `RecordProblem` saying why it cannot be."""
    model = MODELS[obj]
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(rec):
        value = _clean(getattr(rec, f.name))
        if not isinstance(value, str):
            continue
        if f.name in ID_FIELDS:
            limit = _limit(ID_FIELDS[f.name] or model, "external_id")
            if limit is not None and len(value) > limit:
                ident = None if f.name == "external_id" else _clean(rec.external_id)[:limit]
                return RecordProblem(obj, f"{f.name} is longer than {limit} characters", ident)
        else:
            limit = _limit(model, f.name)
            if limit is not None and len(value) > limit:
                value = value[:limit]
        if value != getattr(rec, f.name):
            changes[f.name] = value
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
        result = record(obj, rec)
        (problems if isinstance(result, RecordProblem) else records).append(result)
    return dataclasses.replace(batch, records=records, problems=problems)
