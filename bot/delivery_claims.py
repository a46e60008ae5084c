"""The database side of the sender: claim due deliveries, record outcomes, find stale claims.

Plain synchronous SQLAlchemy (the sender calls these through `asyncio.to_thread`). Every
function takes `session` keyword-only and does not commit; the caller owns the transaction.

A claim is a conditional UPDATE (``status IN ('pending', 'failed')`` → ``'claimed'``,
stamped with the worker id and time), so two workers never both own a row; on PostgreSQL
the candidate SELECT also takes ``FOR UPDATE SKIP LOCKED`` so replicas skip each other's
rows instead of queueing on them. Outcomes are recorded only by the claim's owner
(``claimed_by = worker``), so a late answer from a worker whose claim was taken over by
reconciliation is dropped rather than overwriting the new owner's result.

A row past its `expires_at` is claimed like any due row (even a thread reply whose parent
never got sent) so the sender can record it ``expired`` instead of sending it late.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    Table,
    Text,
    and_,
    bindparam,
    cast,
    exists,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import BindParameter

from rhythms.models import Delivery

CLAIMABLE = ("pending", "failed")


@dataclass(frozen=True)
class Claimed:
    """A snapshot of a claimed delivery: everything the sender needs, detached from the DB.

    The payload stays the stored JSON text until a send needs it (`payload`): decoded in
    the send, its objects live for one request instead of the whole claim batch, which
    keeps them out of the garbage collector's old generation (measured: fewer full
    collections, and the claim's thread does a third less work)."""

    id: int
    rhythm: str
    period_key: str
    recipient: str
    kind: str
    payload_json: str
    attempts: int
    claimed_by: str
    claimed_at: dt.datetime
    created_at: dt.datetime
    expires_at: dt.datetime | None = None
    last_error: str | None = None
    parent_channel: str | None = None
    parent_ts: str | None = None

    @property
    def payload(self) -> dict[str, Any]:
        """The payload, decoded afresh on every read (callers read it once per send)."""
        value = json.loads(self.payload_json)
        if not isinstance(value, dict):
            raise ValueError(f"delivery {self.id}: payload is not a JSON object")
        return value


# The claim's statements are built once (bound parameters, an expanding IN), so a claim
# pays for SQL compilation from SQLAlchemy's cache, not for building expressions per call.
_PARENT = aliased(Delivery)
_DUE = (
    select(Delivery.id)
    .where(
        Delivery.status.in_(CLAIMABLE),
        Delivery.not_before <= bindparam("now", type_=Delivery.not_before.type),
        or_(
            Delivery.thread_of_id.is_(None),
            exists().where(and_(_PARENT.id == Delivery.thread_of_id, _PARENT.status == "sent")),
            Delivery.expires_at <= bindparam("now", type_=Delivery.not_before.type),
        ),
    )
    .order_by(Delivery.not_before, Delivery.id)
    .limit(bindparam("limit", type_=Integer))
)
_DUE_SKIP_LOCKED = _DUE.with_for_update(skip_locked=True, of=Delivery)
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
# the stored JSON text as it is (SQLite keeps text; PostgreSQL renders json as text)
_PAYLOAD_TEXT = cast(Delivery.payload, Text).label("payload_json")
_CLAIM_VALUES = {
    "status": "claimed",
    "claimed_by": bindparam("worker", type_=String),
    "claimed_at": bindparam("claimed_at", type_=Delivery.claimed_at.type),
    "attempts": Delivery.attempts + 1,
}
# Claim and load in one statement: the UPDATE stamps the due rows and RETURNs their
# snapshots (SQLite >= 3.35, PostgreSQL). Parents (thread replies, updates) are read after.
_CLAIMED_FIELDS = (
    Delivery.id,
    Delivery.rhythm,
    Delivery.period_key,
    Delivery.recipient,
    Delivery.kind,
    _PAYLOAD_TEXT,
    Delivery.attempts,
    Delivery.claimed_by,
    Delivery.claimed_at,
    Delivery.created_at,
    Delivery.expires_at,
    Delivery.error,
)  # Claimed's field order up to `last_error`
_RETURNED = (*_CLAIMED_FIELDS, Delivery.thread_of_id)  # then the parent's id


def _claim_statement(due: Any) -> Any:
    return (
        update(Delivery)
        .where(Delivery.id.in_(due), Delivery.status.in_(CLAIMABLE))
        .values(_CLAIM_VALUES)
        .returning(*_RETURNED)
        .execution_options(synchronize_session=False)
    )


_CLAIM_RETURNING = _claim_statement(_DUE)
_CLAIM_RETURNING_SKIP_LOCKED = _claim_statement(_DUE_SKIP_LOCKED)
_PARENTS = select(Delivery.id, Delivery.channel, Delivery.ts).where(Delivery.id.in_(_IDS))
_LOAD = (
    select(*_CLAIMED_FIELDS, _PARENT.channel, _PARENT.ts)  # in Claimed's field order
    .outerjoin(_PARENT, _PARENT.id == Delivery.thread_of_id)
    .where(
        Delivery.id.in_(_IDS),
        Delivery.status == "claimed",
        Delivery.claimed_by == bindparam("worker", type_=String),
        Delivery.claimed_at == bindparam("claimed_at", type_=Delivery.claimed_at.type),
    )
    .order_by(Delivery.id)
)


def claim_due(session: Session, *, worker: str, now: dt.datetime, limit: int) -> list[Claimed]:
    """Claim up to `limit` due deliveries for `worker`; rows whose parent is unsent wait.

    One ``UPDATE … WHERE id IN (due rows) AND status IN ('pending', 'failed') RETURNING``
    (on PostgreSQL the due rows are selected ``FOR UPDATE SKIP LOCKED``), then one query
    for the parents of the few rows that have one. Sorted by id, like `_load`."""
    postgres = session.get_bind().dialect.name == "postgresql"
    statement = _CLAIM_RETURNING_SKIP_LOCKED if postgres else _CLAIM_RETURNING
    stamp = {"worker": worker, "claimed_at": now}
    rows: list[tuple[Any, ...]] = sorted(
        map(tuple, session.execute(statement, {"now": now, "limit": limit, **stamp})),
        key=lambda row: int(row[0]),
    )
    parent_ids = [row[-1] for row in rows if row[-1] is not None]
    parents: dict[int, tuple[Any, Any]] = {}
    if parent_ids:
        parents = {pid: (ch, ts) for pid, ch, ts in session.execute(_PARENTS, {"ids": parent_ids})}
    return [Claimed(*(row[:-1] + parents.get(row[-1], (None, None)))) for row in rows]


def _load(
    session: Session, ids: list[int], *, worker: str, claimed_at: dt.datetime
) -> list[Claimed]:
    """Snapshots of the rows this claim stamped, with their parents' channel and ts: one
    Core query (plain tuples, no ORM identity map: a claim batch is cheap to load)."""
    if not ids:
        return []
    rows = session.execute(_LOAD, {"ids": ids, "worker": worker, "claimed_at": claimed_at})
    return [Claimed(*tuple(row)) for row in rows]


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


@dataclass(frozen=True)
class SentRecord:
    """One `sent` outcome for `record_sent_many`."""

    delivery_id: int
    channel: str | None
    ts: str | None
    sent_at: dt.datetime


_TABLE = Delivery.__table__
assert isinstance(_TABLE, Table)
_SENT_MANY = (  # built once: a batch pays for executing it, not for building it
    update(_TABLE)
    .where(
        _TABLE.c.id == bindparam("b_id"),
        _TABLE.c.status == "claimed",
        _TABLE.c.claimed_by == bindparam("b_worker"),
    )
    .values(
        status="sent",
        channel=bindparam("b_channel"),
        ts=bindparam("b_ts"),
        sent_at=bindparam("b_sent_at"),
        error=None,
    )
)


def record_sent_many(session: Session, *, worker: str, records: Sequence[SentRecord]) -> None:
    """`record_sent` for many deliveries in one ``executemany`` (group commit). Each row is
    still conditional on the claim (``status = 'claimed' AND claimed_by = worker``), so
    writing a batch twice — after a commit whose answer was lost — changes nothing."""
    if not records:
        return
    statement = _SENT_MANY
    session.connection().execute(
        statement,
        [
            {
                "b_id": r.delivery_id,
                "b_worker": worker,
                "b_channel": r.channel,
                "b_ts": r.ts,
                "b_sent_at": r.sent_at,
            }
            for r in records
        ],
    )


def record_failure(
    session: Session,
    *,
    delivery_id: int,
    worker: str,
    error: str,
    retry_at: dt.datetime | None,
    status: str = "dead",
) -> bool:
    """Failed with `error`: retry from `retry_at`, or `status` (dead, expired) for good
    when it is None."""
    values: dict[str, Any] = {"error": error[:2000]}
    if retry_at is None:
        values["status"] = status
    else:
        values.update(status="failed", not_before=retry_at)
    result = session.execute(
        update(Delivery)
        .where(_owned(delivery_id, worker))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def release(
    session: Session, *, delivery_id: int, worker: str, now: dt.datetime, error: str | None = None
) -> bool:
    """Give a claim back (not posted: reconciliation found nothing, or the sender stopped
    or paused): pending again from `now`, keeping the last error unless one is given."""
    values: dict[str, Any] = {
        "status": "pending",
        "not_before": now,
        "claimed_by": None,
        "claimed_at": None,
    }
    if error:
        values["error"] = error[:2000]
    result = session.execute(
        update(Delivery)
        .where(_owned(delivery_id, worker))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


# what `requeue` never touches: an ephemeral whose outcome is unknown may have been shown,
# and sending it again would break "at most once"
NOT_REQUEUED_ERRORS = ("outcome_unknown",)


def requeue(
    session: Session,
    *,
    now: dt.datetime,
    expires_at: dt.datetime,
    statuses: Sequence[str] = ("dead",),
    rhythm: str | None = None,
    since: dt.datetime | None = None,
    dry_run: bool = False,
) -> list[tuple[int, str, str, str | None]]:
    """Give dead (and, if asked, expired) deliveries back to the sender: pending now, a
    fresh attempt count and `expires_at`. The error is kept (an ``unconfirmed`` one still
    makes the sender look in Slack before posting). Returns (id, rhythm, recipient, error)
    of the rows requeued (or, with `dry_run`, that would be)."""
    where = [
        Delivery.status.in_(list(statuses)),
        or_(Delivery.error.is_(None), Delivery.error.not_in(NOT_REQUEUED_ERRORS)),
    ]
    if rhythm is not None:
        where.append(Delivery.rhythm == rhythm)
    if since is not None:
        where.append(Delivery.created_at >= since)
    rows = [
        (int(i), str(r), str(to), e)
        for i, r, to, e in session.execute(
            select(Delivery.id, Delivery.rhythm, Delivery.recipient, Delivery.error)
            .where(*where)
            .order_by(Delivery.id)
        )
    ]
    if rows and not dry_run:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_([r[0] for r in rows]), *where)
            .values(
                status="pending",
                not_before=now,
                attempts=0,
                claimed_by=None,
                claimed_at=None,
                expires_at=expires_at,
            )
            .execution_options(synchronize_session=False)
        )
    return rows
