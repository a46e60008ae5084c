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
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.lookup import catalog_for
from metrics.models import Person
from rhythms import runs
from rhythms.alert_messages import AlertGroup, AlertLine, alert_message
from rhythms.alert_rules import (
    Seen,
    Subject,
    active_people,
    observe,
    red_days_for,
    subjects_for,
)
from rhythms.alert_state import Transition, transition_many
from rhythms.config import AlertRuleConfig, OrgConfig
from rhythms.models import AlertState, Delivery
from rhythms.outbox import enqueue

RHYTHM = "alerts"
TITLES = {
    "below": "{label} below {value:g}",
    "above": "{label} above {value:g}",
    "below_pace_pct": "{label} below {value:.0%} of pace",
    "drop_vs_trailing_pct": "{label} down {value:.0%}+ vs trailing average",
    "no_activity_by": "No {label_lower} by {by}",
    "coverage_below": "Pipeline coverage below {value:g}×",
    "turns_red": "{label} turned red",
}


def slot_key(rule: AlertRuleConfig, now: dt.datetime) -> str:
    minutes = int(now.timestamp() // 60)
    start = minutes - minutes % rule.every_minutes
    return dt.datetime.fromtimestamp(start * 60, dt.UTC).strftime("%Y-%m-%dT%H:%MZ")


def fire_period(rule: str, fired_at: dt.datetime) -> str:
    return f"{rule}:{fired_at.astimezone(dt.UTC):%Y-%m-%dT%H:%MZ}"


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
    """Evaluate every enabled rule whose slot is due and not yet taken. Caller commits."""
    results = []
    people: list[Person] | None = None  # loaded once, shared by every rule due
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
        people = people if people is not None else active_people(session)
        result = evaluate_rule(session, config=config, rule=rule, now=now, people=people)
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
    people: list[Person] | None = None,
) -> RuleResult:
    result = RuleResult(rule.name)
    seen = observe(
        session,
        config=config,
        rule=rule,
        subjects=subjects_for(session, config, rule, people),
        now=now,
    )
    result.evaluated = len(seen)
    grace = dt.timedelta(minutes=rule.grace_minutes)
    cooldown = dt.timedelta(minutes=rule.cooldown_minutes)
    by_subject = {item.subject.key: item for item in seen}
    fired: list[tuple[Seen, Transition]] = []
    changes = transition_many(
        session,
        rule=rule.name,
        now=now,
        grace=grace,
        cooldown=cooldown,
        observations={key: item.obs for key, item in by_subject.items()},
    )
    for t in changes:
        if t.emit == "fire":
            fired.append((by_subject[t.subject], t))
            result.fired.append(t.subject)
        elif t.emit == "resolve":
            result.resolved.append(t.subject)
    if fired and rule.escalate_after_red_days is not None:
        days = red_days_for(
            session,
            config=config,
            rule=rule,
            day=now.date(),
            subjects=[item.subject for item, _ in fired],
        )
        fired = [(replace(item, red_days=days.get(item.subject.key, 0)), t) for item, t in fired]
    if fired:
        result.deliveries += _notify(session, config=config, rule=rule, fired=fired, now=now)
    for subject in result.resolved:
        state = session.get(AlertState, (rule.name, subject))
        if state is not None and state.fired_at is not None:
            result.deliveries += refresh_messages(
                session, config=config, rule=rule.name, fired_at=state.fired_at, now=now
            )
    return result


def _title(config: OrgConfig, rule: AlertRuleConfig) -> tuple[str, str, str]:
    defn = catalog_for(config).get(rule.metric)
    title = TITLES[rule.condition].format(
        label=defn.label,
        label_lower=defn.label.lower(),
        value=rule.value or 0,
        by=f"{rule.by_time:%H:%M}" if rule.by_time else "",
    )
    return title, defn.label, defn.unit


def _recipients(
    session: Session, config: OrgConfig, rule: AlertRuleConfig, subject: Subject, red_days: int
) -> list[tuple[str, str]]:
    """(recipient id, time zone) for a subject: routes, plus escalation after red days."""
    routes = list(rule.route)
    n = rule.escalate_after_red_days
    if n is not None and red_days >= n:
        routes.append("manager")
    if n is not None and red_days >= 2 * n:
        routes.append("cro")
    out: dict[str, str] = {}
    for route in routes:
        people: list[Person] = []
        if route == "person" and subject.person is not None:
            people = [subject.person]
        elif route == "manager":
            people = _managers(session, config, subject)
        elif route == "cro":
            people = list(
                session.scalars(
                    select(Person).where(Person.role == "exec", Person.active.is_(True))
                )
            )
        elif route.startswith("channel:"):
            out.setdefault(route.removeprefix("channel:"), config.org.timezone)
        for p in people:
            if p.slack_user_id:
                out.setdefault(
                    p.slack_user_id, p.timezone_override or p.slack_timezone or config.org.timezone
                )
    return sorted(out.items())


def _managers(session: Session, config: OrgConfig, subject: Subject) -> list[Person]:
    if subject.person is not None and subject.person.manager_id is not None:
        manager = session.get(Person, subject.person.manager_id)
        return [manager] if manager is not None else []
    if subject.team_key is not None:
        team_cfg = config.team(subject.team_key)
        if team_cfg is not None and team_cfg.manager:
            return list(session.scalars(select(Person).where(Person.email == team_cfg.manager)))
    return []


def quiet_until(rule: AlertRuleConfig, zone: str, now: dt.datetime) -> dt.datetime | None:
    """End of the quiet hours `now` falls in (recipient's zone), as aware UTC; else None."""
    if rule.quiet_hours is None:
        return None
    start, end = rule.quiet_hours
    local = now.astimezone(ZoneInfo(zone))
    t = local.time().replace(tzinfo=None)
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside:
        return None
    end_day = local.date() if t < end else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(end_day, end, tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)


def _notify(
    session: Session,
    *,
    config: OrgConfig,
    rule: AlertRuleConfig,
    fired: list[tuple[Seen, Transition]],
    now: dt.datetime,
) -> int:
    """One grouped message per recipient (or one per subject when the rule does not group)."""
    title, label, unit = _title(config, rule)
    by_recipient: dict[tuple[str, str], list[Seen]] = defaultdict(list)
    for item, t in fired:
        if t.snoozed_until is not None and t.snoozed_until > now:
            continue  # snoozed: the firing is recorded, nobody is pinged
        for target in _recipients(session, config, rule, item.subject, item.red_days):
            by_recipient[target].append(item)
    period = fire_period(rule.name, now)
    count = 0
    for (recipient, zone), items in by_recipient.items():
        lines = [
            AlertLine(i.subject.key, i.subject.name, i.obs.value, i.threshold, i.trend)
            for i in sorted(items, key=lambda i: i.subject.name)
        ]
        parts = [("fire", lines)] if rule.group else [(_part(ln.subject), [ln]) for ln in lines]
        for part, part_lines in parts:
            group = AlertGroup(rule.name, rule.severity, title, label, unit, tuple(part_lines))
            text, blocks = alert_message(group)
            enqueue(
                session,
                rhythm=RHYTHM,
                period_key=period,
                recipient=recipient,
                part=part,
                now=now,
                not_before=quiet_until(rule, zone, now),
                payload={"text": text, "blocks": blocks, "alert": {"group": _group_json(group)}},
            )
            count += 1
    return count


def _part(subject: str) -> str:
    return "fire:" + hashlib.sha1(subject.encode()).hexdigest()[:16]


def _group_json(group: AlertGroup) -> dict[str, Any]:
    return {
        "rule": group.rule,
        "severity": group.severity,
        "title": group.title,
        "metric_label": group.metric_label,
        "unit": group.unit,
        "lines": [
            {
                "subject": ln.subject,
                "name": ln.name,
                "value": ln.value,
                "threshold": ln.threshold,
                "trend": list(ln.trend),
            }
            for ln in group.lines
        ],
    }


def _group_from_json(data: dict[str, Any], states: dict[str, AlertState]) -> AlertGroup:
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
    count = 0
    for original in originals:
        data = (original.payload.get("alert") or {}).get("group")
        if not data:
            continue
        subjects = [ln["subject"] for ln in data["lines"]]
        states = {
            s.subject: s
            for s in session.scalars(
                select(AlertState).where(AlertState.rule == rule, AlertState.subject.in_(subjects))
            )
        }
        text, blocks = alert_message(_group_from_json(data, states))
        if original.status == "pending":  # still held (quiet hours): send the current truth
            original.payload = {**original.payload, "text": text, "blocks": blocks}
            continue
        enqueue(
            session,
            rhythm=RHYTHM,
            period_key=period,
            recipient=original.recipient,
            kind="update",
            part=f"update:{now:%Y%m%dT%H%M%S.%f}",
            thread_of_id=original.id,
            now=now,
            payload={"text": text, "blocks": blocks},
        )
        count += 1
    return count


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
