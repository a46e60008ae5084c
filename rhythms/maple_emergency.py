"""MAPLE emergencies: escalated the moment a manager submits one, raised again if nobody
acknowledges them.

`escalate_emergency` DMs every active exec and the author's manager (the nearest active one
up the chain: a deactivated manager is skipped) with an Acknowledge button and records the
emergency as a firing `alert_states` row (rule `maple-emergency`, subject ``reply:ID``);
`acknowledge_emergency` records who acknowledged; `resolve_emergency` resolves it when the
author submits an edit that clears the Emergencies answer (the DMs lose their button and say
so); `reraise_emergencies` (part of the MAPLE follow-ups, every scheduler tick, while a
MAPLE rhythm is switched on) raises each one still firing and unacknowledged after
`options.emergency_reraise_minutes` (default 60) once more — never one whose text is gone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.models import Person, Team
from rhythms.alert_state import acknowledge, load_or_create
from rhythms.blocks import context, section
from rhythms.config import OrgConfig
from rhythms.maple import maple_rhythms, week_label
from rhythms.maple_digest import emergency_blocks
from rhythms.models import AlertEvent, AlertState, Delivery, Reply
from rhythms.outbox import enqueue

EMERGENCY_RULE = "maple-emergency"


def escalate_emergency(
    session: Session,
    *,
    config: OrgConfig,
    reply: Reply,
    author: Person,
    revision: int,
    now: dt.datetime,
) -> int:
    """DM the execs and the author's manager at once; record the emergency as firing."""
    subject = f"reply:{reply.id}"
    state = load_or_create(session, rule=EMERGENCY_RULE, subject=subject, now=now)
    state.state, state.since, state.fired_at = "firing", now, now
    state.acked_by = state.acked_at = state.resolved_at = None
    state.version += 1
    session.add(
        AlertEvent(
            rule=EMERGENCY_RULE, subject=subject, event="fire", at=now, actor=author.slack_user_id
        )
    )
    return _send_emergency(
        session,
        config=config,
        reply=reply,
        author=author,
        period=f"{reply.id}:{revision}",
        part="main",
        now=now,
    )


def _emergency_targets(session: Session, author: Person) -> list[str]:
    people = list(
        session.scalars(select(Person).where(Person.role == "exec", Person.active.is_(True)))
    )
    manager = nearest_active_manager(session, author)
    if manager is not None:
        people.append(manager)
    return list(
        dict.fromkeys(p.slack_user_id for p in people if p.slack_user_id and p.id != author.id)
    )


def nearest_active_manager(session: Session, person: Person) -> Person | None:
    """The person's manager, or — when that one is deactivated or has no Slack id — the next
    one up the chain; None when nobody up there can be reached (the execs still are)."""
    seen = {person.id}
    current = person
    while current.manager_id is not None and current.manager_id not in seen:
        seen.add(current.manager_id)
        manager = session.get(Person, current.manager_id)
        if manager is None:
            return None
        if manager.active and manager.slack_user_id:
            return manager
        current = manager
    return None


def _send_emergency(
    session: Session,
    *,
    config: OrgConfig,
    reply: Reply,
    author: Person,
    period: str,
    part: str,
    now: dt.datetime,
) -> int:
    text, blocks = _message(session, reply, author)
    if part != "main":
        text = "Still unacknowledged: " + text
    count = 0
    for target in _emergency_targets(session, author):
        enqueue(
            session,
            rhythm="maple_emergency",
            period_key=period,
            recipient=target,
            part=part,
            now=now,
            payload={"text": text, "blocks": blocks, "emergency": {"reply_id": reply.id}},
        )
        count += 1
    return count


def _message(
    session: Session, reply: Reply, author: Person, *, acked_by: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """The escalation DM of `reply` (text, blocks), acknowledged by `acked_by` if given."""
    team = session.get(Team, author.team_key) if author.team_key else None
    return emergency_blocks(
        author_name=author.name,
        author_slack_id=author.slack_user_id,
        team_name=team.name if team else "No team",
        week_label=week_label(reply.period_key),
        text=str(reply.answers.get("emergencies") or ""),
        reply_id=reply.id,
        acked_by=acked_by,
    )


def _rewrite(
    session: Session, original: Delivery, payload: dict[str, Any], *, part: str, now: dt.datetime
) -> None:
    """Show `payload` in place of escalation DM `original`: edited before it is sent, or
    updated in Slack after (an update delivery threaded on it, part `part:<its part>`)."""
    if original.status == "pending":
        original.payload = {**original.payload, **payload}
        return
    enqueue(
        session,
        rhythm="maple_emergency",
        period_key=original.period_key,
        recipient=original.recipient,
        kind="update",
        part=f"{part}:{original.part}",
        thread_of_id=original.id,
        now=now,
        payload=payload,
    )


def acknowledge_emergency(session: Session, *, reply_id: int, by: str, now: dt.datetime) -> bool:
    """Record the acknowledgement; rewrite every escalation DM and tell the author who."""
    if not acknowledge(session, rule=EMERGENCY_RULE, subject=f"reply:{reply_id}", by=by, now=now):
        return False
    reply = session.get(Reply, reply_id)
    author = session.get(Person, reply.person_id) if reply is not None else None
    if reply is None or author is None:
        return True
    text, blocks = _message(session, reply, author, acked_by=by)
    for original in _escalations(session, reply_id):
        _rewrite(session, original, {"text": text, "blocks": blocks}, part="ack", now=now)
    if author.slack_user_id:
        enqueue(
            session,
            rhythm="maple_emergency",
            period_key=f"{reply_id}:ack",
            recipient=author.slack_user_id,
            now=now,
            payload={
                "text": f"<@{by}> acknowledged your MAPLE emergency.",
                "blocks": [section(f"✅ <@{by}> acknowledged your MAPLE emergency.")],
            },
        )
    return True


def _escalations(session: Session, reply_id: int) -> list[Delivery]:
    """The escalation DMs of a reply (every revision's, and their re-raises; not the note
    telling the author who acknowledged)."""
    return list(
        session.scalars(
            select(Delivery)
            .where(
                Delivery.rhythm == "maple_emergency",
                Delivery.period_key.like(f"{reply_id}:%"),
                Delivery.period_key != f"{reply_id}:ack",
                Delivery.kind == "message",
                Delivery.part.in_(("main", "reraise")),
            )
            .order_by(Delivery.id)
        )
    )


def resolve_emergency(session: Session, *, reply: Reply, author: Person, now: dt.datetime) -> int:
    """The author cleared the emergency in an edit: resolve its alert (it is never raised
    again) and rewrite each escalation DM without its Acknowledge button, saying it was
    cleared. Returns the DMs rewritten; 0 when nothing was firing."""
    subject = f"reply:{reply.id}"
    state = session.get(AlertState, (EMERGENCY_RULE, subject))
    if state is None or state.state != "firing":
        return 0
    state.state, state.since, state.resolved_at = "resolved", now, now
    state.version += 1
    session.add(
        AlertEvent(
            rule=EMERGENCY_RULE,
            subject=subject,
            event="resolve",
            at=now,
            actor=author.slack_user_id,
            detail={"reason": "cleared by the author"},
        )
    )
    who = f"<@{author.slack_user_id}>" if author.slack_user_id else author.name
    note = context(f"✅ Cleared: {who} removed this emergency from their update")
    count = 0
    for original in _escalations(session, reply.id):
        blocks = [b for b in original.payload.get("blocks") or [] if b.get("type") != "actions"]
        payload = {"text": str(original.payload.get("text") or ""), "blocks": [*blocks, note]}
        _rewrite(session, original, payload, part="clear", now=now)
        count += 1
    return count


def reraise_emergencies(session: Session, config: OrgConfig, now: dt.datetime) -> int:
    rhythms = maple_rhythms(session, config)
    if not rhythms:  # MAPLE switched off: it sends nothing, re-raises included
        return 0
    delay = dt.timedelta(
        minutes=int(
            next(
                (r.options.get("emergency_reraise_minutes", 60) for r in rhythms.values()),
                60,
            )
        )
    )
    states = session.scalars(
        select(AlertState).where(
            AlertState.rule == EMERGENCY_RULE,
            AlertState.state == "firing",
            AlertState.acked_by.is_(None),
            AlertState.fired_at <= now - delay,
        )
    ).all()
    count = 0
    for state in states:
        reply_id = int(state.subject.split(":")[1])
        already = session.scalars(
            select(AlertEvent.id).where(
                AlertEvent.rule == EMERGENCY_RULE,
                AlertEvent.subject == state.subject,
                AlertEvent.event == "reraised",
                AlertEvent.at >= state.fired_at,
            )
        ).first()
        reply = session.get(Reply, reply_id)
        author = session.get(Person, reply.person_id) if reply is not None else None
        if already is not None or reply is None or author is None:
            continue
        if not str(reply.answers.get("emergencies") or "").strip():
            resolve_emergency(session, reply=reply, author=author, now=now)  # never re-raise ""
            continue
        session.add(
            AlertEvent(rule=EMERGENCY_RULE, subject=state.subject, event="reraised", at=now)
        )
        count += _send_emergency(
            session,
            config=config,
            reply=reply,
            author=author,
            period=f"{reply_id}:reraise:{state.fired_at:%Y%m%dT%H%M}",
            part="reraise",
            now=now,
        )
    return count
