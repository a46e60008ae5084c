"""Shared helpers for CRM sync tests: reading what landed in the store."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from metrics.models import Activity, CrmUser, Deal, RollupDirty

NOW = dt.datetime(2026, 11, 23, 18, 0, tzinfo=dt.UTC)


def stored(factory: sessionmaker[Session], model: Any, source: str) -> dict[str, Any]:
    with factory() as session:
        rows = session.scalars(select(model).where(model.source == source)).all()
        return {r.external_id: r for r in rows}


def live(rows: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rows.items() if not v.deleted}


def count(factory: sessionmaker[Session], model: Any) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def dirty_days(factory: sessionmaker[Session]) -> set[tuple[int, dt.date]]:
    with factory() as session:
        return {(r.crm_user_id, r.day) for r in session.scalars(select(RollupDirty))}


def expected_dirty(factory: sessionmaker[Session], source: str) -> set[tuple[int, dt.date]]:
    """Every (owner, UTC day) stored activities and deals sit on."""
    out: set[tuple[int, dt.date]] = set()
    for a in stored(factory, Activity, source).values():
        if a.owner_id is not None:
            out |= {(a.owner_id, t.date()) for t in (a.occurred_at, a.booked_at) if t}
    for d in stored(factory, Deal, source).values():
        if d.owner_id is not None:
            out |= {(d.owner_id, t.date()) for t in (d.created_at, d.closed_at) if t}
    return out


def owner_emails(factory: sessionmaker[Session], source: str) -> dict[str, str | None]:
    return {k: v.email for k, v in stored(factory, CrmUser, source).items()}
