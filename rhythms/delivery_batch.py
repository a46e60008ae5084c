"""A run's deliveries written in bulk: the batch form of `rhythms.outbox.enqueue`.

Same contract as `enqueue` (payloads validated by `outbox.validate_payload`, one row per
(rhythm, period_key, recipient, part), an existing row wins), but as multi-row
``INSERT … ON CONFLICT DO NOTHING`` on the unique key instead of a SELECT and a savepoint
per row: 10,000 scoreboards are a few statements, not 30,000. Supported on SQLite (3.24+)
and PostgreSQL. Callers own the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from metrics.store import insert_ignore
from rhythms.models import Delivery
from rhythms.outbox import default_expiry, validate_payload
from rhythms.registry import Outgoing

CHUNK = 1000
_KEY = ("rhythm", "period_key", "recipient", "part")


def enqueue_all(
    session: Session,
    *,
    rhythm: str,
    period_key: str,
    items: Sequence[Outgoing],
    now: dt.datetime,
    run_id: int | None = None,
    chunk: int = CHUNK,
    expires_at: dt.datetime | None = None,
) -> None:
    """Write every item not already in the outbox for (rhythm, period_key); they expire at
    `expires_at` (default: `outbox.default_expiry` of each item's kind from `now`)."""
    rows: list[dict[str, Any]] = []
    for item in items:
        validate_payload(item.kind, item.payload)
        rows.append(
            {
                "run_id": run_id,
                "rhythm": rhythm,
                "period_key": period_key,
                "recipient": item.recipient,
                "part": item.part,
                "kind": item.kind,
                "payload": item.payload,
                "status": "pending",
                "attempts": 0,
                "not_before": now,
                "created_at": now,
                "expires_at": expires_at or default_expiry(item.kind, now),
            }
        )
    for start in range(0, len(rows), max(1, chunk)):
        insert_chunk(session, rows[start : start + max(1, chunk)])
    threaded = [item for item in items if item.thread_part]
    if threaded:
        _link_threads(session, rhythm=rhythm, period_key=period_key, items=threaded)


def _link_threads(
    session: Session, *, rhythm: str, period_key: str, items: Sequence[Outgoing]
) -> None:
    """Point each threaded item at its parent (same run and recipient, `thread_part`)."""
    rows = session.execute(
        select(Delivery.id, Delivery.recipient, Delivery.part).where(
            Delivery.rhythm == rhythm, Delivery.period_key == period_key
        )
    ).all()
    ids = {(recipient, part): delivery_id for delivery_id, recipient, part in rows}
    for item in items:
        parent = ids.get((item.recipient, item.thread_part or ""))
        child = ids.get((item.recipient, item.part))
        if parent is not None and child is not None:
            session.execute(
                update(Delivery)
                .where(Delivery.id == child, Delivery.thread_of_id.is_(None))
                .values(thread_of_id=parent)
            )


def insert_chunk(session: Session, rows: list[dict[str, Any]]) -> None:
    insert_ignore(session, Delivery, rows, keys=list(_KEY))
