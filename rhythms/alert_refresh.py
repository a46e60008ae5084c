"""Rewrite a firing's messages from its subjects' current state.

Every message of one firing (one per recipient, or per subject when the rule does not
group) is rewritten once when one of its subjects resolves, its day ends, alerts are
switched off, or someone acknowledges it: a message already sent gets an ``update`` row
keyed by the message it updates; one still held (quiet hours) has its payload replaced, so
it goes out with the current truth. A line is firing only while its subject is still in
*this* firing (a later firing of the same subject is another message).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.group_values import plain
from rhythms.alert_messages import AlertGroup, AlertLine, alert_message
from rhythms.alert_outbox import Outgoing, enqueue_many
from rhythms.alert_routing import RHYTHM, fire_period
from rhythms.config import OrgConfig
from rhythms.models import AlertState, Delivery


def _belongs(state: Any, rule: str, period: str) -> bool:
    """Whether the subject's state row is still about this firing (not a later one)."""
    return (
        state is not None
        and state.fired_at is not None
        and fire_period(rule, state.fired_at) == period
    )


def _line_state(state: Any, rule: str, period: str) -> str:
    """firing / expired / stopped while the subject's state belongs to this firing; else
    the firing was resolved (a later one of the same subject is a message of its own)."""
    if _belongs(state, rule, period) and state.state in ("firing", "expired", "stopped"):
        return str(state.state)
    return "resolved"


def group_from_json(data: dict[str, Any], states: dict[str, Any], period: str) -> AlertGroup:
    """A stored message's group with each line in its subject's current state."""
    lines = []
    for ln in data["lines"]:
        state = states.get(ln["subject"])
        lines.append(
            AlertLine(
                ln["subject"],
                ln["name"],
                ln["value"],
                ln.get("threshold", ""),
                tuple(ln["trend"]),
                state=_line_state(state, data["rule"], period),
                acked_by=(
                    state.acked_by
                    if state is not None and _belongs(state, data["rule"], period)
                    else None
                ),
                detail=ln.get("detail", ""),
                red_days=ln.get("red_days", 0),
            )
        )
    return AlertGroup(
        data["rule"],
        data["severity"],
        data["title"],
        data["metric_label"],
        data["unit"],
        tuple(lines),
        step=data.get("step", ""),
        why=data.get("why", ""),
    )


def refresh_messages(
    session: Session, *, config: OrgConfig, rule: str, fired_at: dt.datetime, now: dt.datetime
) -> int:
    """Rewrite every message of the firing at `fired_at` from the subjects' current state."""
    period = fire_period(rule, fired_at)
    originals = session.scalars(
        select(Delivery).where(
            Delivery.rhythm == RHYTHM,
            Delivery.period_key == period,
            Delivery.part.startswith("fire"),
        )
    ).all()
    groups = [(o, (o.payload.get("alert") or {}).get("group")) for o in originals]
    subjects = sorted({ln["subject"] for _, data in groups if data for ln in data["lines"]})
    states = {
        row.subject: row
        for row in plain(session)
        .execute(
            select(
                AlertState.subject, AlertState.state, AlertState.acked_by, AlertState.fired_at
            ).where(AlertState.rule == rule, AlertState.subject.in_(subjects))
        )
        .all()
    }  # one read for every message of the firing
    updates: list[Outgoing] = []
    for original, data in groups:
        if not data:
            continue
        text, blocks = alert_message(group_from_json(data, states, period))
        if original.status == "pending":  # still held (quiet hours): send the current truth
            original.payload = {**original.payload, "text": text, "blocks": blocks}
            continue
        part = f"u{original.id}:{now:%Y%m%dT%H%M%S.%f}"[:32]  # one update per message
        payload = {"text": text, "blocks": blocks}
        updates.append(Outgoing(original.recipient, part, payload, None, "update", original.id))
    enqueue_many(session, rhythm=RHYTHM, period_key=period, items=updates, now=now)
    return len(updates)
