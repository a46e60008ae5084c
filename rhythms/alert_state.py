"""The alert state machine for one (rule, subject), and its race-safe persistence.

States: ``ok → pending → firing → resolved → ok``, and ``expired`` / ``stopped``.

- A breach moves ``ok`` to ``pending``; still breached after the rule's grace period it
  becomes ``firing`` and emits ``fire`` (once: no re-alert while firing).
- A clear while ``pending`` goes back to ``ok`` silently; while ``firing`` it becomes
  ``resolved`` and emits ``resolve`` (the bot updates the original message, no new ping).
- Cooldown (after a resolve): a new breach inside it is a new episode only once it has
  held for the grace period *and* until the next evaluation (``pending`` first, whatever the
  grace); cleared meanwhile it goes back to ``resolved``. So a value flipping at every
  evaluation pings once, and a real relapse pings one evaluation later, not hours later.
- A firing ends with its subject's working day (``expired``) or when alerts are switched
  off or its rule is gone (``stopped``), emitting ``expire`` (`rhythms.alert_expiry`):
  nothing shows an alert firing that nobody evaluates any more. Both rest like ``ok``.
- Hysteresis: the evaluator says ``breached``/``cleared`` separately; a value between the
  two (hovering at a band edge) keeps the current state, so it does not flap.

`advance` is pure. `transition` applies it to the `alert_states` row with compare-and-set on
`version`, so two replicas evaluating the same tick emit each transition once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any, Literal, NamedTuple

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from metrics.group_values import plain
from metrics.store import insert_ignore
from rhythms.models import AlertEvent, AlertState

State = Literal["ok", "pending", "firing", "resolved", "expired", "stopped"]
Emit = Literal["fire", "resolve", "expire"]
ENDED: tuple[State, ...] = ("expired", "stopped")  # rest like "ok"


@dataclass(frozen=True)
class Snapshot:
    state: State
    since: dt.datetime
    fired_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    cooldown_until: dt.datetime | None = None
    red_days: int = 0


class Observation(NamedTuple):
    """What the evaluator saw: breached, cleared (both false = inside the hysteresis band)."""

    breached: bool
    cleared: bool
    value: float | None = None


def advance(
    snap: Snapshot,
    obs: Observation,
    *,
    now: dt.datetime,
    grace: dt.timedelta,
    cooldown: dt.timedelta,
) -> tuple[Snapshot, Emit | None]:
    """The next state and what to tell people (pure)."""
    state = snap.state
    cooling = snap.cooldown_until is not None and now < snap.cooldown_until
    if state == "resolved" and cooling:
        if obs.breached:  # a relapse: confirmed at a later evaluation before it pings
            return replace(snap, state="pending", since=now), None
        return snap, None
    if state in ("resolved", *ENDED):
        state = "ok"
        snap = replace(snap, state="ok", since=now)
    if state == "ok":
        if not obs.breached:
            return snap, None
        if grace <= dt.timedelta(0):
            return replace(snap, state="firing", since=now, fired_at=now, resolved_at=None), "fire"
        return replace(snap, state="pending", since=now), None
    if state == "pending":
        if obs.cleared or not obs.breached:
            return replace(snap, state="resolved" if cooling else "ok", since=now), None
        if now - snap.since >= grace and now > snap.since:
            return replace(snap, state="firing", since=now, fired_at=now, resolved_at=None), "fire"
        return snap, None
    # firing
    if obs.cleared:
        return replace(
            snap, state="resolved", since=now, resolved_at=now, cooldown_until=now + cooldown
        ), "resolve"
    return snap, None


_STATES: dict[str, State] = {
    "ok": "ok",
    "pending": "pending",
    "firing": "firing",
    "resolved": "resolved",
    "expired": "expired",
    "stopped": "stopped",
}


def _snapshot(row: Any) -> Snapshot:
    """From an `AlertState` object or a plain row of its columns."""
    return Snapshot(
        state=_STATES.get(row.state, "ok"),
        since=row.since,
        fired_at=row.fired_at,
        resolved_at=row.resolved_at,
        cooldown_until=row.cooldown_until,
        red_days=row.red_days,
    )


def load_or_create(session: Session, *, rule: str, subject: str, now: dt.datetime) -> AlertState:
    row = session.get(AlertState, (rule, subject))
    if row is not None:
        return row
    insert_ignore(
        session,
        AlertState,
        [
            {
                "rule": rule,
                "subject": subject,
                "state": "ok",
                "since": now,
                "version": 0,
                "red_days": 0,
            }
        ],
        keys=["rule", "subject"],
    )
    row = session.get(AlertState, (rule, subject))
    assert row is not None  # inserted now, or by a concurrent evaluator
    return row


@dataclass(frozen=True)
class Transition:
    rule: str
    subject: str
    emit: Emit | None
    state: State
    value: float | None
    delivery_id: int | None  # the message that announced the firing, for updates
    snoozed_until: dt.datetime | None = None
    fired_at: dt.datetime | None = None  # of the firing this transition belongs to


def transition(
    session: Session,
    *,
    rule: str,
    subject: str,
    obs: Observation,
    now: dt.datetime,
    grace: dt.timedelta,
    cooldown: dt.timedelta,
) -> Transition | None:
    """Apply one observation; None if another evaluator changed the row first (it emitted)."""
    row = load_or_create(session, rule=rule, subject=subject, now=now)
    snap = _snapshot(row)
    new, emit = advance(snap, obs, now=now, grace=grace, cooldown=cooldown)
    values: dict[str, object] = {
        "last_value": obs.value,
        "last_evaluated_at": now,
        "version": row.version + 1,
    }
    if new != snap:
        values.update(
            state=new.state,
            since=new.since,
            fired_at=new.fired_at,
            resolved_at=new.resolved_at,
            cooldown_until=new.cooldown_until,
        )
    if emit == "fire":
        values.update(acked_by=None, acked_at=None, delivery_id=None)
    result = session.execute(
        update(AlertState)
        .where(
            AlertState.rule == rule,
            AlertState.subject == subject,
            AlertState.version == row.version,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    delivery_id, snoozed_until = row.delivery_id, row.snoozed_until
    session.expire(row)
    if emit is not None:
        session.add(
            AlertEvent(rule=rule, subject=subject, event=emit, at=now, detail={"value": obs.value})
        )
    return Transition(rule, subject, emit, new.state, obs.value, delivery_id, snoozed_until)


_LOADED = (
    AlertState.subject,
    AlertState.state,
    AlertState.since,
    AlertState.fired_at,
    AlertState.resolved_at,
    AlertState.cooldown_until,
    AlertState.red_days,
    AlertState.version,
    AlertState.delivery_id,
    AlertState.snoozed_until,
)


def transition_many(
    session: Session,
    *,
    rule: str,
    observations: dict[str, Observation],
    now: dt.datetime,
    grace: dt.timedelta,
    cooldown: dt.timedelta,
) -> list[Transition]:
    """`transition` for every subject of a rule at once, writing only what changed.

    One query loads the rule's states (plain rows); a subject with no row is `ok`, and gets a
    row only when it leaves `ok`. Rows that do not change are not written (the common case:
    most people are fine most of the time). The writes are a few multi-row statements that
    keep the compare-and-set: new rows are ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (a
    row created meanwhile by a concurrent evaluator is left to it: it emitted), changed rows
    an upsert whose ``DO UPDATE`` only applies if `version` is still the one read (``WHERE
    version = excluded.version - 1``), returning the subjects it wrote. Only the returned
    subjects emit, and get an `alert_events` row (one multi-row insert). (Nothing deletes
    state rows; if something did between the read and the write, the upsert would write the
    row again rather than skip it.)
    """
    query = select(*_LOADED).where(AlertState.rule == rule)
    rows = {r.subject: r for r in plain(session).execute(query).all()}
    planned: dict[str, Transition] = {}
    created: list[dict[str, Any]] = []
    changed: dict[bool, list[dict[str, Any]]] = {True: [], False: []}  # by "fires"
    for subject, obs in observations.items():
        row = rows.get(subject)
        if row is None and not obs.breached:
            continue  # `ok` and not breached: `advance` leaves it as it is
        snap = _snapshot(row) if row is not None else Snapshot(state="ok", since=now)
        new, emit = advance(snap, obs, now=now, grace=grace, cooldown=cooldown)
        if new == snap and emit is None:
            continue
        values: dict[str, Any] = {
            "rule": rule,
            "subject": subject,
            "state": new.state,
            "since": new.since,
            "fired_at": new.fired_at,
            "resolved_at": new.resolved_at,
            "cooldown_until": new.cooldown_until,
            "last_value": obs.value,
            "last_evaluated_at": now,
            "red_days": row.red_days if row is not None else 0,
            "version": row.version + 1 if row is not None else 1,
        }
        if row is None:
            created.append(values)
        else:
            changed[emit == "fire"].append(values)
        planned[subject] = Transition(
            rule,
            subject,
            emit,
            new.state,
            obs.value,
            row.delivery_id if row is not None else None,
            row.snoozed_until if row is not None else None,
            new.fired_at,
        )
    written = _insert_new(session, created)
    for fires, batch in changed.items():
        written |= _compare_and_set(session, batch, fires=fires)
    out = [t for subject, t in planned.items() if subject in written]
    events = [
        {
            "rule": rule,
            "subject": t.subject,
            "event": t.emit,
            "at": now,
            "actor": None,
            "detail": {"value": t.value},
        }
        for t in out
        if t.emit is not None
    ]
    if events:
        session.connection().execute(insert(AlertEvent), events)
    return out


def end_states(
    session: Session, *, rule: str, ends: dict[str, tuple[State, str]], now: dt.datetime
) -> list[Transition]:
    """End the `firing` or `pending` state of these subjects: subject -> (``expired`` or
    ``stopped``, the reason for the log). A firing emits ``expire`` (its messages are
    rewritten by the caller); a pending one ends silently. Compare-and-set per row, as
    `transition_many`: a row changed meanwhile by someone else is left to them."""
    if not ends:
        return []
    query = select(*_LOADED, AlertState.last_value).where(
        AlertState.rule == rule,
        AlertState.subject.in_(sorted(ends)),
        AlertState.state.in_(("firing", "pending")),
    )
    rows = plain(session).execute(query).all()
    planned: dict[str, Transition] = {}
    batch: list[dict[str, Any]] = []
    for row in rows:
        state, _reason = ends[row.subject]
        emit: Emit | None = "expire" if row.state == "firing" else None
        batch.append(
            {
                "rule": rule,
                "subject": row.subject,
                "state": state,
                "since": now,
                "fired_at": row.fired_at,
                "resolved_at": row.resolved_at,
                "cooldown_until": None,
                "last_value": row.last_value,
                "last_evaluated_at": now,
                "red_days": row.red_days,
                "version": row.version + 1,
            }
        )
        planned[row.subject] = Transition(
            rule, row.subject, emit, state, row.last_value, row.delivery_id, None, row.fired_at
        )
    written = _compare_and_set(session, batch, fires=False)
    out = [t for subject, t in planned.items() if subject in written]
    events = [
        {
            "rule": rule,
            "subject": t.subject,
            "event": t.emit,
            "at": now,
            "actor": None,
            "detail": {"value": t.value, "reason": ends[t.subject][1]},
        }
        for t in out
        if t.emit is not None
    ]
    if events:
        session.connection().execute(insert(AlertEvent), events)
    return out


def _insert(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(AlertState)
    return sqlite.insert(AlertState)


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Insert state rows that did not exist; the subjects actually inserted."""
    if not rows:
        return set()
    statement = (
        _insert(session)
        .on_conflict_do_nothing(index_elements=["rule", "subject"])
        .returning(AlertState.subject)
    )
    return set(session.connection().execute(statement, rows).scalars())


def _compare_and_set(session: Session, rows: list[dict[str, Any]], *, fires: bool) -> set[str]:
    """Write changed state rows whose `version` is still the one read; the subjects written.

    A firing clears the previous firing's acknowledgement and message link."""
    if not rows:
        return set()
    statement = _insert(session)
    excluded = statement.excluded
    columns = (
        "state",
        "since",
        "fired_at",
        "resolved_at",
        "cooldown_until",
        "last_value",
        "last_evaluated_at",
        "version",
    )
    set_: dict[str, Any] = {name: excluded[name] for name in columns}
    if fires:
        set_.update(acked_by=None, acked_at=None, delivery_id=None)
    statement = statement.on_conflict_do_update(
        index_elements=["rule", "subject"],
        set_=set_,
        where=AlertState.version == excluded.version - 1,
    ).returning(AlertState.subject)
    return set(session.connection().execute(statement, rows).scalars())


def record_delivery(session: Session, *, rule: str, subjects: list[str], delivery_id: int) -> None:
    """Remember which message announced these firings, so resolution can update it."""
    session.execute(
        update(AlertState)
        .where(AlertState.rule == rule, AlertState.subject.in_(subjects))
        .values(delivery_id=delivery_id)
        .execution_options(synchronize_session=False)
    )


def acknowledge(session: Session, *, rule: str, subject: str, by: str, now: dt.datetime) -> bool:
    """Record who acknowledged a firing alert; False if it is not firing (or already acked)."""
    result = session.execute(
        update(AlertState)
        .where(
            AlertState.rule == rule,
            AlertState.subject == subject,
            AlertState.state == "firing",
            AlertState.acked_by.is_(None),
        )
        .values(acked_by=by, acked_at=now, version=AlertState.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.add(AlertEvent(rule=rule, subject=subject, event="acked", at=now, actor=by))
    return True


def snooze(
    session: Session, *, rule: str, subject: str, by: str, until: dt.datetime, now: dt.datetime
) -> bool:
    result = session.execute(
        update(AlertState)
        .where(AlertState.rule == rule, AlertState.subject == subject)
        .values(snoozed_until=until, version=AlertState.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.add(
        AlertEvent(
            rule=rule,
            subject=subject,
            event="snoozed",
            at=now,
            actor=by,
            detail={"until": until.isoformat()},
        )
    )
    return True


def history(session: Session, *, limit: int = 100, rule: str | None = None) -> list[AlertEvent]:
    query = select(AlertEvent).order_by(AlertEvent.at.desc(), AlertEvent.id.desc()).limit(limit)
    if rule is not None:
        query = query.where(AlertEvent.rule == rule)
    return list(session.scalars(query))
