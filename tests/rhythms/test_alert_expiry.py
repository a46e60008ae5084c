"""A firing alert ends with its subject's working day, or when alerts are switched off, and
every view agrees (the App Home, `firing_now`), even before the next heartbeat."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from metrics.clock import TravellingClock
from rhythms.alert_expiry import firing_now
from rhythms.alerts import act_on_message, evaluate_rules
from rhythms.engine import RhythmEngine
from rhythms.heartbeat import heartbeat
from rhythms.home_view import home_view
from rhythms.models import AlertEvent, AlertState, Delivery, RhythmOverride
from tests.support.alert_org import (
    LA,
    NY,
    RED_STREAK,
    TEAM_PACE,
    WED,
    at,
    calls,
    config,
    seed,
)

TUESDAY = WED.replace(day=24)


def _state(session: Session, rule: str, subject: str) -> str:
    session.expire_all()
    row = session.get(AlertState, (rule, subject))
    assert row is not None
    return row.state


def _listed(session: Session, cfg, now) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {(r.rule, r.subject) for r in firing_now(session, config=cfg, now=now)}


def _fire(session: Session, message: Delivery) -> None:
    message.status, message.channel, message.ts = "sent", "D1", f"{message.id}.0001"
    session.commit()


def test_a_firing_ends_with_its_subjects_working_day(session: Session) -> None:
    cfg = config(RED_STREAK, TEAM_PACE)
    people = seed(session, cfg)
    leo, ben = f"person:{people['leo'].id}", f"person:{people['ben'].id}"
    for name, n in (("leo", 5), ("dana", 40), ("aisha", 16), ("ben", 0)):
        calls(session, people[name], 50, TUESDAY)  # green yesterday: no escalation
        calls(session, people[name], n)
    evaluate_rules(session, config=cfg, now=at(11, 30))  # Leo red (5 of 13)
    # 12:00 in Los Angeles: Ben red (0 of 16); SDR West 16 of 32 calls due, below 60 %
    evaluate_rules(session, config=cfg, now=at(12, 0, LA))
    session.commit()
    for message in session.scalars(select(Delivery).where(Delivery.kind == "message")):
        _fire(session, message)
    firing = {("red-streak", leo), ("red-streak", ben), ("team-behind", "team:west")}
    assert _listed(session, cfg, at(17, 59)) == firing
    # 18:00 in New York: Leo's day is over, Ben's and SDR West's (Los Angeles) are not;
    # views agree before any evaluation has run
    assert _listed(session, cfg, at(18)) == firing - {("red-streak", leo)}
    assert _listed(session, cfg, at(18, 0, LA)) == set()

    evaluate_rules(session, config=cfg, now=at(18, 30))  # nobody's rule is due: the sweep
    session.commit()
    assert _state(session, "red-streak", leo) == "expired"
    assert _state(session, "red-streak", ben) == "firing"
    updates = session.scalars(select(Delivery).where(Delivery.kind == "update")).all()
    assert {u.recipient for u in updates} == {"ULEO", "UMARIA"}  # Leo's message, rewritten
    text = json.dumps([u.payload for u in updates], ensure_ascii=False)
    assert "🌙 Day over · Calls turned red" in text and "_ended with the working day_" in text
    events = session.scalars(select(AlertEvent).where(AlertEvent.event == "expire")).all()
    assert [(e.subject, (e.detail or {})["reason"]) for e in events] == [
        (leo, "the subject's day is over")
    ]

    evaluate_rules(session, config=cfg, now=at(18, 30, LA))
    session.commit()
    assert _state(session, "red-streak", ben) == "expired"
    assert _state(session, "team-behind", "team:west") == "expired"
    # the next day starts afresh: still behind, Leo is alerted again (a new message)
    calls(session, people["leo"], 5, WED.replace(day=26))
    calls(session, people["dana"], 30, WED.replace(day=26))
    evaluate_rules(session, config=cfg, now=at(11, 30, day=WED.replace(day=26)))
    session.commit()
    assert _state(session, "red-streak", leo) == "firing"
    # Acknowledge on Wednesday's message does not acknowledge Thursday's alert
    wednesday = next(
        d
        for d in session.scalars(select(Delivery).where(Delivery.recipient == "ULEO"))
        if d.kind == "message" and d.status == "sent"
    )
    reply = act_on_message(
        session,
        config=cfg,
        action="ack",
        channel=wednesday.channel or "",
        ts=wednesday.ts or "",
        user="ULEO",
        now=at(11, 40, day=WED.replace(day=26)),
        zone=NY,
    )
    assert reply == "Already acknowledged or resolved."
    row = session.get(AlertState, ("red-streak", leo))
    assert row is not None and row.acked_by is None


def test_alerts_switched_off_end_every_firing(session_factory: sessionmaker[Session]) -> None:
    cfg = config(RED_STREAK, alerts_schedule="*/30 9-18 * * mon-fri")
    with session_factory() as session:
        people = seed(session, cfg)
        calls(session, people["leo"], 50, TUESDAY)
        calls(session, people["leo"], 5)
        calls(session, people["dana"], 30)
        evaluate_rules(session, config=cfg, now=at(11, 30))
        session.commit()
        for message in session.scalars(select(Delivery).where(Delivery.kind == "message")):
            _fire(session, message)
        leo = f"person:{people['leo'].id}"
        assert _listed(session, cfg, at(11, 45)) == {("red-streak", leo)}
        session.add(
            RhythmOverride(rhythm="alerts", enabled=False, changed_by="USAM", changed_at=at(12))
        )
        session.commit()
        # switched off: no view lists it, even before the next heartbeat
        assert _listed(session, cfg, at(12, 0, LA)) == set()
        home = home_view(session, config=cfg, slack_user_id="ULEO", now=at(12, 0, LA))
        assert "Alerts firing" not in json.dumps(home)

    clock = TravellingClock(at(12, 1))
    engine = RhythmEngine(session_factory=session_factory, config=cfg, clock=clock)
    heartbeat(session_factory=session_factory, config=cfg, clock=clock, engine=engine)
    with session_factory() as session:
        assert _state(session, "red-streak", leo) == "stopped"
        updates = session.scalars(select(Delivery).where(Delivery.kind == "update")).all()
        assert {u.recipient for u in updates} == {"ULEO", "UMARIA"}
        assert all(u.payload["text"] == "⏸ Alerts off · Calls turned red" for u in updates)
