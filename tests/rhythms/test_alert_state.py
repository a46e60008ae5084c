from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from rhythms.alert_state import (
    Observation,
    Snapshot,
    acknowledge,
    advance,
    history,
    transition,
)
from rhythms.models import AlertEvent, AlertState

T0 = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)
GRACE = dt.timedelta(minutes=30)
COOL = dt.timedelta(hours=4)
BREACH = Observation(breached=True, cleared=False, value=3)
CLEAR = Observation(breached=False, cleared=True, value=40)
BAND = Observation(breached=False, cleared=False, value=29)


def _run(obs_by_minute: list[tuple[int, Observation]], grace: dt.timedelta = GRACE) -> list[str]:
    snap = Snapshot(state="ok", since=T0)
    out = []
    for minute, obs in obs_by_minute:
        snap, emit = advance(
            snap, obs, now=T0 + dt.timedelta(minutes=minute), grace=grace, cooldown=COOL
        )
        out.append(f"{snap.state}{'!' + emit if emit else ''}")
    return out


def test_fires_once_after_grace_and_not_while_firing() -> None:
    assert _run([(0, BREACH), (15, BREACH), (30, BREACH), (60, BREACH), (90, BREACH)]) == [
        "pending",
        "pending",
        "firing!fire",
        "firing",
        "firing",
    ]


def test_no_grace_fires_at_once_and_pending_clears_silently() -> None:
    assert _run([(0, BREACH)], grace=dt.timedelta(0)) == ["firing!fire"]
    assert _run([(0, BREACH), (10, CLEAR), (20, BREACH)]) == ["pending", "ok", "pending"]


def test_a_relapse_inside_the_cooldown_fires_once_confirmed_not_hours_later() -> None:
    """Resolved at 60, red again at 90: a new episode, confirmed at the next evaluation
    (and after the grace) — not held back until the 4-hour cooldown ends at 300."""
    steps = [(0, BREACH), (30, BREACH), (60, CLEAR), (90, BREACH), (120, BREACH), (150, BREACH)]
    assert _run(steps) == [
        "pending",
        "firing!fire",
        "resolved!resolve",
        "pending",
        "firing!fire",
        "firing",
    ]
    # no grace: the relapse still waits for one more evaluation before it pings
    no_grace = [(0, BREACH), (30, CLEAR), (60, BREACH), (90, BREACH)]
    assert _run(no_grace, grace=dt.timedelta(0)) == [
        "firing!fire",
        "resolved!resolve",
        "pending",
        "firing!fire",
    ]


def test_flapping_inside_the_cooldown_pings_once() -> None:
    """Red and green at every evaluation: one ping; the cooldown (4 h from the resolve at
    30) is kept by every relapse that clears before it is confirmed."""
    flips = [(m, BREACH if i % 2 == 0 else CLEAR) for i, m in enumerate(range(0, 211, 30))]
    states = _run(flips, grace=dt.timedelta(0))
    assert states == [
        "firing!fire",
        "resolved!resolve",
        "pending",
        "resolved",
        "pending",
        "resolved",
        "pending",
        "resolved",
    ]
    # red again once the cooldown is over (270): a new alert at once, as after any resolve
    assert _run([*flips, (300, BREACH)], grace=dt.timedelta(0))[-1] == "firing!fire"


def test_hysteresis_band_keeps_state() -> None:
    # firing, then hovering in the band (neither breached nor cleared) does not resolve
    assert _run([(0, BREACH), (30, BREACH), (45, BAND), (60, BAND), (75, CLEAR)]) == [
        "pending",
        "firing!fire",
        "firing",
        "firing",
        "resolved!resolve",
    ]


def test_transition_persists_and_logs(session: Session) -> None:
    emits = []
    for minute, obs in [(0, BREACH), (30, BREACH), (45, BREACH), (60, CLEAR)]:
        t = transition(
            session,
            rule="r",
            subject="person:1",
            obs=obs,
            now=T0 + dt.timedelta(minutes=minute),
            grace=GRACE,
            cooldown=COOL,
        )
        assert t is not None
        emits.append(t.emit)
        session.commit()
    assert emits == [None, "fire", None, "resolve"]
    row = session.get(AlertState, ("r", "person:1"))
    assert row is not None and row.state == "resolved"
    assert row.cooldown_until == T0 + dt.timedelta(minutes=60) + COOL
    assert [e.event for e in history(session)] == ["resolve", "fire"]


def test_acknowledge_only_a_firing_alert_once(session: Session) -> None:
    transition(
        session,
        rule="r",
        subject="team:sdr",
        obs=BREACH,
        now=T0,
        grace=dt.timedelta(0),
        cooldown=COOL,
    )
    session.commit()
    assert acknowledge(session, rule="r", subject="team:sdr", by="U1", now=T0)
    assert not acknowledge(session, rule="r", subject="team:sdr", by="U2", now=T0)
    assert not acknowledge(session, rule="r", subject="team:none", by="U2", now=T0)
    session.commit()
    session.expire_all()
    row = session.get(AlertState, ("r", "team:sdr"))
    assert row is not None and row.acked_by == "U1"


def test_two_evaluators_racing_fire_once(session_factory: sessionmaker[Session]) -> None:
    """Two replicas evaluate the same subjects at the same tick: each firing is emitted once."""
    subjects = [f"person:{i}" for i in range(20)]
    barrier = threading.Barrier(2)
    fired: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def replica() -> None:
        try:
            barrier.wait()
            for subject in subjects:
                for _ in range(5):  # retry on a lost race or a lock conflict
                    with session_factory() as s:
                        try:
                            t = transition(
                                s,
                                rule="race",
                                subject=subject,
                                obs=BREACH,
                                now=T0,
                                grace=dt.timedelta(0),
                                cooldown=COOL,
                            )
                            s.commit()
                        except Exception:
                            s.rollback()
                            continue
                    if t is not None and t.emit == "fire":
                        with lock:
                            fired.append(subject)
                    break
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(fired) == sorted(subjects)  # every subject fired, none twice
    with session_factory() as s:
        events = s.scalars(select(AlertEvent).where(AlertEvent.event == "fire")).all()
        assert len(events) == len(subjects)


def test_transition_many_writes_only_changes(session: Session) -> None:
    from rhythms.alert_state import transition_many

    subjects = {f"person:{i}": (BREACH if i < 3 else CLEAR) for i in range(50)}
    first = transition_many(
        session, rule="bulk", observations=subjects, now=T0, grace=GRACE, cooldown=COOL
    )
    session.commit()
    assert [(t.state, t.emit) for t in first] == [("pending", None)] * 3  # no emission yet
    rows = session.scalars(select(AlertState).where(AlertState.rule == "bulk")).all()
    assert sorted(r.subject for r in rows) == ["person:0", "person:1", "person:2"]  # ok = no row
    again = transition_many(
        session,
        rule="bulk",
        observations=subjects,
        now=T0 + dt.timedelta(minutes=5),
        grace=GRACE,
        cooldown=COOL,
    )
    assert again == []
    assert {r.version for r in session.scalars(select(AlertState))} == {1}  # nothing rewritten
    fired = transition_many(
        session,
        rule="bulk",
        observations=subjects,
        now=T0 + dt.timedelta(minutes=31),
        grace=GRACE,
        cooldown=COOL,
    )
    session.commit()
    assert sorted(t.subject for t in fired if t.emit == "fire") == [
        "person:0",
        "person:1",
        "person:2",
    ]
