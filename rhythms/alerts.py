"""Threshold alerts: evaluate rules on their cadence, route firings, keep messages current.

A rule is checked at the `alerts` rhythm's firings, at most once every `every_minutes` per
zone (`rhythms.alert_schedule`); each check is claimed as a rhythm run ``alerts:RULE`` +
firing, so several replicas never check the same firing twice; on top of that each
subject's transition is compare-and-set (`rhythms.alert_state`). Before the rules, firings
whose day is over (or whose rule is gone) end (`rhythms.alert_expiry`). Firings of one check
are grouped into one message per recipient. A recipient in quiet hours gets the message
held (`not_before` = the end of their quiet hours), delivered once. Resolutions, endings and
acknowledgements rewrite the original message (or, if it is still held, its payload).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import get_args
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.config import Role
from metrics.group_values import PersonSums
from metrics.scoreboards import work_calendar
from rhythms import runs
from rhythms.alert_expiry import end_stale
from rhythms.alert_gc import cycle_collection_paused
from rhythms.alert_people import Directory, load_directory, subject_zones
from rhythms.alert_refresh import refresh_messages
from rhythms.alert_routing import RHYTHM, fire_period, notify, quiet_until
from rhythms.alert_rules import Seen, Subject, observe, red_days_for, subjects_for
from rhythms.alert_schedule import (
    Check,
    alerts_rhythms,
    due_checks,
    latest_firings,
    slot_key,
)
from rhythms.alert_state import Transition, acknowledge, snooze, transition_many
from rhythms.config import AlertRuleConfig, OrgConfig
from rhythms.models import AlertState, Delivery

ROLES = frozenset(get_args(Role))  # every role: where anyone lives

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


@dataclass
class RuleResult:
    rule: str
    evaluated: int = 0
    fired: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    deliveries: int = 0
    skipped: bool = False  # no check due now, or another replica took it


def evaluate_rules(
    session: Session, *, config: OrgConfig, now: dt.datetime, replica: str = "local"
) -> list[RuleResult]:
    """End the firings whose day is over, then check every enabled rule that is due at
    `now` and not yet taken (`rhythms.alert_schedule`). Caller commits.

    The cyclic garbage collector is paused meanwhile (`rhythms.alert_gc`)."""
    with cycle_collection_paused():
        end_stale(session, config=config, now=now)
        return _evaluate_due(session, config=config, now=now, replica=replica)


def _evaluate_due(
    session: Session, *, config: OrgConfig, now: dt.datetime, replica: str
) -> list[RuleResult]:
    results = []
    directory: Directory | None = None  # read once, shared by every rule due
    sums = PersonSums()  # rollup reads, shared by the rules of this tick
    rhythms = alerts_rhythms(session, config)
    latest = None  # no `alerts` rhythm: each rule on its own slots
    if rhythms is not None:
        zones = _zones(session, config)
        latest = latest_firings(rhythms, zones=zones, work=work_calendar(config), now=now)
    for rule in config.alerts:
        if not rule.enabled:
            continue
        checks = due_checks(session, rule=rule, latest=latest, now=now)
        won: list[tuple[Check, int]] = []
        for check in checks:
            run = runs.plan(
                session,
                rhythm=f"{RHYTHM}:{rule.name}",
                period_key=check.period_key,
                scheduled_for=check.at,
            )
            if run is not None and runs.claim(
                session, run_id=run.id, replica=replica, now=now, lease=dt.timedelta(minutes=10)
            ):
                won.append((check, run.id))
        if not won:
            results.append(RuleResult(rule.name, skipped=True))
            continue
        if directory is None:
            directory = load_directory(session, org_timezone=config.org.timezone)
        covered = [c.zones for c, _ in won]
        only = None if None in covered else frozenset().union(*(z for z in covered if z))
        result = evaluate_rule(
            session,
            config=config,
            rule=rule,
            now=now,
            directory=directory,
            sums=sums,
            only_zones=only,
        )
        for _, run_id in won:
            runs.finish(
                session,
                run_id=run_id,
                replica=replica,
                now=now,
                status=runs.DONE,
                deliveries=result.deliveries,
            )
        results.append(result)
    return results


def _zones(session: Session, config: OrgConfig) -> set[str]:
    """The zones active people live in, and the org's (teams with nobody live there)."""
    found = subject_zones(session, org_timezone=config.org.timezone, subjects={"org": ROLES})
    return {config.org.timezone, *found["org"]}


def evaluate_rule(
    session: Session,
    *,
    config: OrgConfig,
    rule: AlertRuleConfig,
    now: dt.datetime,
    directory: Directory | None = None,
    sums: PersonSums | None = None,
    only_zones: frozenset[str] | None = None,
) -> RuleResult:
    """Check one rule now (for the subjects living in `only_zones`, or everyone)."""
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
        only_zones=only_zones,
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
        by_day: dict[dt.date, list[Subject]] = defaultdict(list)  # each subject's own today
        for item, _ in fired:
            by_day[now.astimezone(ZoneInfo(item.subject.timezone)).date()].append(item.subject)
        days: dict[str, int] = {}
        for day, subjects in by_day.items():
            days |= red_days_for(
                session, config=config, rule=rule, day=day, subjects=subjects, memo=memo
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
    delivery = _message_delivery(session, channel=channel, ts=ts)
    data = ((delivery.payload.get("alert") or {}).get("group") if delivery else None) or {}
    if delivery is None or not data:
        return "This alert is no longer tracked."
    rule = str(data["rule"])
    subjects = [ln["subject"] for ln in data["lines"]]
    changed = 0
    if action == "ack":  # this firing's subjects: not a later firing of the same subject
        rows = session.execute(
            select(AlertState.subject, AlertState.fired_at).where(
                AlertState.rule == rule, AlertState.subject.in_(subjects)
            )
        ).all()
        ours = [s for s, fired in rows if fired and fire_period(rule, fired) == delivery.period_key]
        changed = sum(acknowledge(session, rule=rule, subject=s, by=user, now=now) for s in ours)
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
