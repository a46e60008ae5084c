"""Rhythm runs as rows: one per (rhythm, period key), claimed exactly once.

States: ``planned`` → ``running`` → ``done`` | ``skipped`` | ``failed``.

- `plan` inserts a planned row; the unique key (rhythm, period_key) makes a second insert —
  from a restart or another replica — a no-op (`INSERT … ON CONFLICT DO NOTHING`).
- `claim` moves planned → running with a conditional UPDATE, so of several replicas exactly
  one wins (PostgreSQL re-checks the WHERE clause after waiting for the row lock). A run left
  ``running`` by a process that died is claimable again once its lease has expired.
- `supersede` skips the claimable runs of a zone older than a newly planned firing (catch-up
  sends only the latest).
- `finish` moves running → done only while the caller still holds the claim, so a run that
  was reclaimed from a slow process cannot be finished twice.

Service functions: `session` keyword-only, no commits; the engine owns the transactions.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from metrics.store import insert_ignore
from rhythms.models import RhythmRun
from rhythms.schedule import parse_period_key

PLANNED, RUNNING, DONE, SKIPPED, FAILED = "planned", "running", "done", "skipped", "failed"
ERROR_MAX = 4000


def plan(
    session: Session,
    *,
    rhythm: str,
    period_key: str,
    scheduled_for: dt.datetime,
    status: str = PLANNED,
    note: str | None = None,
    now: dt.datetime | None = None,
) -> RhythmRun | None:
    """Insert the run for (rhythm, period_key); None if it already exists."""
    inserted = insert_ignore(
        session,
        RhythmRun,
        [
            {
                "rhythm": rhythm,
                "period_key": period_key,
                "scheduled_for": scheduled_for,
                "status": status,
                "deliveries": 0,
                "error": _clip(note),
                "finished_at": now if status == SKIPPED else None,
            }
        ],
        keys=["rhythm", "period_key"],
    )
    if not inserted:
        return None
    return session.scalars(
        select(RhythmRun).where(RhythmRun.rhythm == rhythm, RhythmRun.period_key == period_key)
    ).one()


def claim(
    session: Session, *, run_id: int, replica: str, now: dt.datetime, lease: dt.timedelta
) -> bool:
    """planned → running (or take over a running run whose lease expired); True if won."""
    result = session.execute(
        update(RhythmRun)
        .where(
            RhythmRun.id == run_id,
            or_(
                RhythmRun.status == PLANNED,
                (RhythmRun.status == RUNNING) & (RhythmRun.started_at < now - lease),
            ),
        )
        .values(status=RUNNING, claimed_by=replica, started_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def finish(
    session: Session,
    *,
    run_id: int,
    replica: str,
    now: dt.datetime,
    status: str,
    deliveries: int = 0,
    error: str | None = None,
) -> bool:
    """running → `status` if `replica` still holds the claim; True if it did."""
    result = session.execute(
        update(RhythmRun)
        .where(RhythmRun.id == run_id, RhythmRun.status == RUNNING, RhythmRun.claimed_by == replica)
        .values(status=status, finished_at=now, deliveries=deliveries, error=_clip(error))
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def supersede(
    session: Session,
    *,
    rhythm: str,
    zone: str,
    before: dt.datetime,
    now: dt.datetime,
    lease: dt.timedelta,
    note: str,
) -> int:
    """Skip the rhythm's claimable runs in `zone` scheduled before `before`: a later firing
    was planned, and catch-up sends only the latest. Conditional like `claim`, so a run a
    replica holds (lease alive) is left alone; a run whose lease this takes over cannot be
    finished by its old holder (`finish` checks the claim). Returns how many were skipped."""
    candidates = session.execute(
        select(RhythmRun.id, RhythmRun.period_key).where(
            RhythmRun.rhythm == rhythm,
            RhythmRun.scheduled_for < before,
            _claimable(now, lease),
        )
    ).all()
    ids = [run_id for run_id, key in candidates if parse_period_key(key)[2] == zone]
    if not ids:
        return 0
    result = session.execute(
        update(RhythmRun)
        .where(RhythmRun.id.in_(ids), _claimable(now, lease))
        .values(status=SKIPPED, finished_at=now, error=_clip(note))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _claimable(now: dt.datetime, lease: dt.timedelta) -> ColumnElement[bool]:
    return or_(
        RhythmRun.status == PLANNED,
        (RhythmRun.status == RUNNING) & (RhythmRun.started_at < now - lease),
    )


def claimable(
    session: Session, *, now: dt.datetime, lease: dt.timedelta, since: dt.datetime
) -> list[RhythmRun]:
    """Runs someone should execute: planned ones, and running ones with an expired lease."""
    return list(
        session.scalars(
            select(RhythmRun)
            .where(
                RhythmRun.scheduled_for >= since,
                or_(
                    RhythmRun.status == PLANNED,
                    (RhythmRun.status == RUNNING) & (RhythmRun.started_at < now - lease),
                ),
            )
            .order_by(RhythmRun.scheduled_for, RhythmRun.id)
        )
    )


def recent_keys(
    session: Session, *, rhythm: str, since: dt.datetime
) -> list[tuple[str, dt.datetime]]:
    """(period_key, scheduled_for) of the rhythm's runs scheduled since `since`."""
    rows = session.execute(
        select(RhythmRun.period_key, RhythmRun.scheduled_for).where(
            RhythmRun.rhythm == rhythm, RhythmRun.scheduled_for >= since
        )
    )
    return [(key, when) for key, when in rows]


def _clip(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"
