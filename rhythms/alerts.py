"""Threshold alerts: evaluate rules on their cadence, route firings, keep messages current.

One evaluation of a rule per slot (`every_minutes`), claimed as a rhythm run keyed
``alerts:RULE`` + slot, so several replicas never evaluate the same slot twice; on top of
that each subject's transition is compare-and-set (`rhythms.alert_state`). Firings of one
slot are grouped into one message per recipient. A recipient in quiet hours gets the message
held (`not_before` = the end of their quiet hours), delivered once. Resolutions and
acknowledgements rewrite the original message (or, if it is still held, its payload).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.group_values import PersonSums, plain
from rhythms import runs
from rhythms.alert_gc import cycle_collection_paused
from rhythms.alert_messages import AlertGroup, AlertLine, alert_message
from rhythms.alert_outbox import Outgoing, enqueue_many
from rhythms.alert_people import Directory, load_directory
from rhythms.alert_routing import RHYTHM, fire_period, notify, quiet_until
from rhythms.alert_rules import Seen, observe, red_days_for, subjects_for
from rhythms.alert_state import Transition, transition_many
from rhythms.config import AlertRuleConfig, OrgConfig
from rhythms.models import AlertState, Delivery

__all__ = [
    "RHYTHM",
    "RuleResult",
    "act_on_message",
    "evaluate_rule",
    "evaluate_rules",
    "fire_period",
    "quiet_until",
    "refresh_messages",
    "slot_key",
]


def slot_key(rule: AlertRuleConfig, now: dt.datetime) -> str:
    minutes = int(now.timestamp() // 60)
    start = minutes - minutes % rule.every_minutes
    return dt.datetime.fromtimestamp(start * 60, dt.UTC).strftime("%Y-%m-%dT%H:%MZ")


@dataclass
class RuleResult:
    rule: str
    evaluated: int = 0
    fired: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    deliveries: int = 0
    skipped: bool = False  # another replica had this slot


def evaluate_rules(
    session: Session, *, config: OrgConfig, now: dt.datetime, replica: str = "local"
) -> list[RuleResult]:
    """Evaluate every enabled rule whose slot is due and not yet taken. Caller commits.

    The cyclic garbage collector is paused meanwhile (`rhythms.alert_gc`)."""
    with cycle_collection_paused():
        return _evaluate_due(session, config=config, now=now, replica=replica)


def _evaluate_due(
    session: Session, *, config: OrgConfig, now: dt.datetime, replica: str
) -> list[RuleResult]:
    results = []
    directory: Directory | None = None  # read once, shared by every rule due
    sums = PersonSums()  # rollup reads, shared by the rules of this tick
    for rule in config.alerts:
        if not rule.enabled:
            continue
        slot = slot_key(rule, now)
        run = runs.plan(session, rhythm=f"{RHYTHM}:{rule.name}", period_key=slot, scheduled_for=now)
        if run is None or not runs.claim(
            session, run_id=run.id, replica=replica, now=now, lease=dt.timedelta(minutes=10)
        ):
            results.append(RuleResult(rule.name, skipped=True))
            continue
        if directory is None:
            directory = load_directory(session, org_timezone=config.org.timezone)
        result = evaluate_rule(
            session, config=config, rule=rule, now=now, directory=directory, sums=sums
        )
        runs.finish(
            session,
            run_id=run.id,
            replica=replica,
            now=now,
            status=runs.DONE,
            deliveries=result.deliveries,
        )
        results.append(result)
    return results


def evaluate_rule(
    session: Session,
    *,
    config: OrgConfig,
    rule: AlertRuleConfig,
    now: dt.datetime,
    directory: Directory | None = None,
    sums: PersonSums | None = None,
) -> RuleResult:
    result = RuleResult(rule.name)
    if directory is None:
        directory = load_directory(session, org_timezone=config.org.timezone)
    memo: dict[tuple[object, ...], float | None] = {}  # targets, for this rule's subjects
    seen = observe(
        session,
        config=config,
        rule=rule,
        subjects=subjects_for(session, config, rule, directory),
        now=now,
        memo=memo,
        sums=sums,
    )
    result.evaluated = len(seen)
    by_subject = {item.subject.key: item for item in seen}
    fired: list[tuple[Seen, Transition]] = []
    changes = transition_many(
        session,
        rule=rule.name,
        now=now,
        grace=dt.timedelta(minutes=rule.grace_minutes),
        cooldown=dt.timedelta(minutes=rule.cooldown_minutes),
        observations={key: item.obs for key, item in by_subject.items()},
    )
    resolved_firings: set[dt.datetime] = set()
    for t in changes:
        if t.emit == "fire":
            fired.append((by_subject[t.subject], t))
            result.fired.append(t.subject)
        elif t.emit == "resolve":
            result.resolved.append(t.subject)
            if t.fired_at is not None:
                resolved_firings.add(t.fired_at)
    if fired and rule.escalate_after_red_days is not None:
        days = red_days_for(
            session,
            config=config,
            rule=rule,
            day=now.date(),
            subjects=[item.subject for item, _ in fired],
            memo=memo,
        )
        fired = [(item._replace(red_days=days.get(item.subject.key, 0)), t) for item, t in fired]
    if fired:
        result.deliveries += notify(
            session, directory=directory, config=config, rule=rule, fired=fired, now=now
        )
    for fired_at in sorted(resolved_firings):  # each firing's messages rewritten once
        result.deliveries += refresh_messages(
            session, config=config, rule=rule.name, fired_at=fired_at, now=now
        )
    return result


def _group_from_json(data: dict[str, Any], states: dict[str, Any]) -> AlertGroup:
    lines = []
    for ln in data["lines"]:
        state = states.get(ln["subject"])
        lines.append(
            AlertLine(
                ln["subject"],
                ln["name"],
                ln["value"],
                ln["threshold"],
                tuple(ln["trend"]),
                state="resolved" if state is not None and state.state != "firing" else "firing",
                acked_by=state.acked_by if state is not None else None,
            )
        )
    return AlertGroup(
        data["rule"],
        data["severity"],
        data["title"],
        data["metric_label"],
        data["unit"],
        tuple(lines),
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
            select(AlertState.subject, AlertState.state, AlertState.acked_by).where(
                AlertState.rule == rule, AlertState.subject.in_(subjects)
            )
        )
        .all()
    }  # one read for every message of the firing
    updates: list[Outgoing] = []
    for original, data in groups:
        if not data:
            continue
        text, blocks = alert_message(_group_from_json(data, states))
        if original.status == "pending":  # still held (quiet hours): send the current truth
            original.payload = {**original.payload, "text": text, "blocks": blocks}
            continue
        part = f"u{original.id}:{now:%Y%m%dT%H%M%S.%f}"[:32]  # one update per message
        payload = {"text": text, "blocks": blocks}
        updates.append(Outgoing(original.recipient, part, payload, None, "update", original.id))
    enqueue_many(session, rhythm=RHYTHM, period_key=period, items=updates, now=now)
    return len(updates)


def _message_delivery(session: Session, *, channel: str, ts: str) -> Delivery | None:
    return session.scalars(
        select(Delivery).where(
            Delivery.rhythm == RHYTHM,
            Delivery.channel == channel,
            Delivery.ts == ts,
            Delivery.part.startswith("fire"),
        )
    ).first()


def act_on_message(
    session: Session,
    *,
    config: OrgConfig,
    action: str,
    channel: str,
    ts: str,
    user: str,
    now: dt.datetime,
    zone: str,
) -> str:
    """Acknowledge or snooze the firing subjects of an alert message; rewrite it for everyone.

    `action` is "ack", "snooze_1h" or "snooze_today" (until the end of the user's day).
    Returns a short confirmation for the person who clicked.
    """
    from rhythms.alert_state import acknowledge, snooze

    delivery = _message_delivery(session, channel=channel, ts=ts)
    data = ((delivery.payload.get("alert") or {}).get("group") if delivery else None) or {}
    if delivery is None or not data:
        return "This alert is no longer tracked."
    rule = str(data["rule"])
    subjects = [ln["subject"] for ln in data["lines"]]
    changed = 0
    if action == "ack":
        changed = sum(
            acknowledge(session, rule=rule, subject=s, by=user, now=now) for s in subjects
        )
        reply = (
            f"Acknowledged {changed} alert(s)." if changed else "Already acknowledged or resolved."
        )
    else:
        local = now.astimezone(ZoneInfo(zone))
        until = (
            now + dt.timedelta(hours=1)
            if action == "snooze_1h"
            else dt.datetime.combine(
                local.date() + dt.timedelta(days=1), dt.time(0), tzinfo=ZoneInfo(zone)
            ).astimezone(dt.UTC)
        )
        changed = sum(
            snooze(session, rule=rule, subject=s, by=user, until=until, now=now) for s in subjects
        )
        reply = f"Snoozed until {until.astimezone(ZoneInfo(zone)):%a %H:%M}."
    stamp = delivery.period_key.partition(":")[2]  # rule names hold no ":"
    fired_at = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%MZ").replace(tzinfo=dt.UTC)
    refresh_messages(session, config=config, rule=rule, fired_at=fired_at, now=now)
    return reply
