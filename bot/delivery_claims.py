"""The database side of the sender: claim due deliveries, record outcomes, find stale claims.

Plain synchronous SQLAlchemy (the sender calls these through `asyncio.to_thread`). Every
function takes `session` keyword-only and does not commit; the caller owns the transaction.

A claim is a conditional UPDATE (``status IN ('pending', 'failed')`` → ``'claimed'``,
stamped with the worker id and time), so two workers never both own a row; on PostgreSQL
the candidate SELECT also takes ``FOR UPDATE SKIP LOCKED`` so replicas skip each other's
rows instead of queueing on them. Outcomes are recorded only by the claim's owner
(``claimed_by = worker``), so a late answer from a worker whose claim was taken over by
reconciliation is dropped rather than overwriting the new owner's result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from rhythms.models import Delivery

CLAIMABLE = ("pending", "failed")


@dataclass(frozen=True)
class Claimed:
    """A snapshot of a claimed delivery: everything the sender needs, detached from the DB."""

    id: int
    rhythm: str
    period_key: str
    recipient: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    claimed_by: str
    claimed_at: dt.datetime
    created_at: dt.datetime
    last_error: str | None = None
    parent_channel: str | None = None
    parent_ts: str | None = None


def _snapshot(row: Delivery, parent: Delivery | None) -> Claimed:
    assert row.claimed_by is not None and row.claimed_at is not None
    return Claimed(
        id=row.id,
        rhythm=row.rhythm,
        period_key=row.period_key,
        recipient=row.recipient,
        kind=row.kind,
        payload=dict(row.payload),
        attempts=row.attempts,
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        created_at=row.created_at,
        last_error=row.error,
        parent_channel=parent.channel if parent else None,
        parent_ts=parent.ts if parent else None,
    )


def claim_due(session: Session, *, worker: str, now: dt.datetime, limit: int) -> list[Claimed]:
    """Claim up to `limit` due deliveries for `worker`; rows whose parent is unsent wait."""
    parent = aliased(Delivery)
    parent_ready = or_(
        Delivery.thread_of_id.is_(None),
        exists().where(and_(parent.id == Delivery.thread_of_id, parent.status == "sent")),
    )
    query = (
        select(Delivery.id)
        .where(Delivery.status.in_(CLAIMABLE), Delivery.not_before <= now, parent_ready)
        .order_by(Delivery.not_before, Delivery.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Delivery)
    ids = list(session.scalars(query))
    if not ids:
        return []
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.status.in_(CLAIMABLE))
        .values(
            status="claimed",
            claimed_by=worker,
            claimed_at=now,
            attempts=Delivery.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return _load(session, ids, worker=worker, claimed_at=now)


def _load(
    session: Session, ids: list[int], *, worker: str, claimed_at: dt.datetime
) -> list[Claimed]:
    rows = session.scalars(
        select(Delivery)
        .where(
            Delivery.id.in_(ids),
            Delivery.status == "claimed",
            Delivery.claimed_by == worker,
            Delivery.claimed_at == claimed_at,
        )
        .order_by(Delivery.id)
        .execution_options(populate_existing=True)
    ).all()
    parent_ids = {r.thread_of_id for r in rows if r.thread_of_id}
    found = session.scalars(select(Delivery).where(Delivery.id.in_(parent_ids)))
    parents = {p.id: p for p in found}
    return [_snapshot(r, parents.get(r.thread_of_id) if r.thread_of_id else None) for r in rows]


def take_over_stale(
    session: Session, *, worker: str, now: dt.datetime, older_than: dt.datetime, limit: int
) -> list[Claimed]:
    """Claims left by a dead worker (claimed before `older_than`), re-stamped for `worker`.

    Compare-and-set on (claimed_by, claimed_at), so two reconcilers never share a row.
    """
    stale = session.scalars(
        select(Delivery)
        .where(Delivery.status == "claimed", Delivery.claimed_at < older_than)
        .order_by(Delivery.id)
        .limit(limit)
    ).all()
    taken: list[int] = []
    for row in stale:
        assert row.claimed_at is not None
        result = session.execute(
            update(Delivery)
            .where(
                Delivery.id == row.id,
                Delivery.status == "claimed",
                Delivery.claimed_by == row.claimed_by,
                Delivery.claimed_at == row.claimed_at,
            )
            .values(claimed_by=worker, claimed_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            taken.append(row.id)
    return _load(session, taken, worker=worker, claimed_at=now)


def _owned(delivery_id: int, worker: str) -> Any:
    return and_(
        Delivery.id == delivery_id, Delivery.status == "claimed", Delivery.claimed_by == worker
    )


def record_sent(
    session: Session,
    *,
    delivery_id: int,
    worker: str,
    channel: str | None,
    ts: str | None,
    now: dt.datetime,
) -> bool:
    """Mark a claimed delivery sent with where it landed; False if the claim was lost."""
    result = session.execute(
        update(Delivery)
        .where(_owned(delivery_id, worker))
        .values(status="sent", channel=channel, ts=ts, sent_at=now, error=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def record_failure(
    session: Session,
    *,
    delivery_id: int,
    worker: str,
    error: str,
    retry_at: dt.datetime | None,
) -> bool:
    """Failed with `error`: retry from `retry_at`, or dead for good when it is None."""
    values: dict[str, Any] = {"error": error[:2000]}
    if retry_at is None:
        values["status"] = "dead"
    else:
        values.update(status="failed", not_before=retry_at)
    result = session.execute(
        update(Delivery)
        .where(_owned(delivery_id, worker))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def release(session: Session, *, delivery_id: int, worker: str, now: dt.datetime) -> bool:
    """Give a claim back (reconciliation found nothing was posted): pending again, now."""
    result = session.execute(
        update(Delivery)
        .where(_owned(delivery_id, worker))
        .values(status="pending", not_before=now, claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
