"""MAPLE emergencies: escalated the moment a manager submits one, raised again if nobody
acknowledges them.

`escalate_emergency` DMs every exec and the author's manager with an Acknowledge button and
records the emergency as a firing `alert_states` row (rule `maple-emergency`, subject
``reply:ID``); `acknowledge_emergency` records who acknowledged; `reraise_emergencies` (part
of the MAPLE follow-ups, every scheduler tick) raises each one unacknowledged after
`options.emergency_reraise_minutes` (default 60) once more.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.models import Person, Team
from rhythms.alert_state import acknowledge, load_or_create
from rhythms.blocks import section
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
    state.acked_by = state.acked_at = None
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
    if author.manager_id is not None:
        manager = session.get(Person, author.manager_id)
        if manager is not None:
            people.append(manager)
    return list(
        dict.fromkeys(p.slack_user_id for p in people if p.slack_user_id and p.id != author.id)
    )


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


def acknowledge_emergency(session: Session, *, reply_id: int, by: str, now: dt.datetime) -> bool:
    """Record the acknowledgement; rewrite every escalation DM and tell the author who."""
    if not acknowledge(session, rule=EMERGENCY_RULE, subject=f"reply:{reply_id}", by=by, now=now):
        return False
    reply = session.get(Reply, reply_id)
    author = session.get(Person, reply.person_id) if reply is not None else None
    if reply is None or author is None:
        return True
    text, blocks = _message(session, reply, author, acked_by=by)
    sent = session.scalars(
        select(Delivery).where(
            Delivery.rhythm == "maple_emergency",
            Delivery.period_key.like(f"{reply_id}:%"),
            Delivery.kind == "message",
        )
    ).all()
    for original in sent:
        if original.status == "pending":
            original.payload = {**original.payload, "text": text, "blocks": blocks}
        else:
            enqueue(
                session,
                rhythm="maple_emergency",
                period_key=original.period_key,
                recipient=original.recipient,
                kind="update",
                part=f"ack:{original.part}",
                thread_of_id=original.id,
                now=now,
                payload={"text": text, "blocks": blocks},
            )
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


def reraise_emergencies(session: Session, config: OrgConfig, now: dt.datetime) -> int:
    delay = dt.timedelta(
        minutes=int(
            next(
                (
                    r.options.get("emergency_reraise_minutes", 60)
                    for r in maple_rhythms(config).values()
                ),
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
