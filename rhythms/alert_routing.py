"""Who hears about an alert firing, and the grouped messages written for them.

Routes (`cro`, `manager`, `person`, `channel:#x`) resolve against the tick's `Directory`
(plain rows, no query per subject); escalation adds the manager after N red days and the CRO
after 2N, and tells them why (`rhythms.alert_wording.escalation_note`). One message per
recipient per firing (or per subject when the rule does not group), held until the end of
the recipient's quiet hours, written with `alert_outbox.enqueue_many`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from metrics.lookup import catalog_for
from rhythms.alert_messages import AlertGroup, AlertLine, alert_message
from rhythms.alert_outbox import Outgoing, enqueue_many
from rhythms.alert_people import Directory, Member
from rhythms.alert_rules import Seen, Subject
from rhythms.alert_state import Transition
from rhythms.alert_wording import escalation_note, next_step
from rhythms.config import AlertRuleConfig, OrgConfig

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


def fire_period(rule: str, fired_at: dt.datetime) -> str:
    return f"{rule}:{fired_at.astimezone(dt.UTC):%Y-%m-%dT%H:%MZ}"


def title(config: OrgConfig, rule: AlertRuleConfig) -> tuple[str, str, str]:
    defn = catalog_for(config).get(rule.metric)
    text = TITLES[rule.condition].format(
        label=defn.label,
        label_lower=defn.label.lower(),
        value=rule.value or 0,
        by=f"{rule.by_time:%H:%M}" if rule.by_time else "",
    )
    return text, defn.label, defn.unit


def recipients(
    directory: Directory,
    config: OrgConfig,
    rule: AlertRuleConfig,
    subject: Subject,
    red_days: int,
) -> list[tuple[str, str]]:
    """(recipient id, time zone) for a subject: routes, plus escalation after red days."""
    return [(who, zone) for who, zone, _ in routed(directory, config, rule, subject, red_days)]


def routed(
    directory: Directory,
    config: OrgConfig,
    rule: AlertRuleConfig,
    subject: Subject,
    red_days: int,
) -> list[tuple[str, str, str | None]]:
    """(recipient id, time zone, escalated as "manager"/"cro" or None when a configured
    route reaches them) for a subject."""
    routes: list[tuple[str, str | None]] = [(r, None) for r in rule.route]
    n = rule.escalate_after_red_days
    if n is not None and red_days >= n:
        routes.append(("manager", "manager"))
    if n is not None and red_days >= 2 * n:
        routes.append(("cro", "cro"))
    out: dict[str, tuple[str, str | None]] = {}
    for route, escalated in routes:
        people: list[Member] = []
        if route == "person" and subject.person is not None:
            people = [subject.person]
        elif route == "manager":
            people = managers(directory, config, subject)
        elif route == "cro":
            people = list(directory.execs)
        elif route.startswith("channel:"):
            out.setdefault(route.removeprefix("channel:"), (config.org.timezone, None))
        for p in people:
            if p.slack_user_id:
                out.setdefault(p.slack_user_id, (p.timezone, escalated))
    return sorted((who, zone, escalated) for who, (zone, escalated) in out.items())


def managers(directory: Directory, config: OrgConfig, subject: Subject) -> list[Member]:
    """A person's manager (`people.manager_id`), else the team's `[[teams]].manager`."""
    if subject.person is not None and subject.person.manager_id is not None:
        manager = directory.by_id.get(subject.person.manager_id)
        return [manager] if manager is not None else []
    if subject.team_key is not None:
        team_cfg = config.team(subject.team_key)
        if team_cfg is not None and team_cfg.manager:
            found = directory.by_email.get(team_cfg.manager)
            return [found] if found is not None else []
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


def notify(
    session: Session,
    *,
    directory: Directory,
    config: OrgConfig,
    rule: AlertRuleConfig,
    fired: list[tuple[Seen, Transition]],
    now: dt.datetime,
) -> int:
    """One grouped message per recipient (or one per subject when the rule does not group)."""
    heading, label, unit = title(config, rule)
    by_recipient: dict[tuple[str, str], list[tuple[Seen, str | None]]] = defaultdict(list)
    for item, t in fired:
        if t.snoozed_until is not None and t.snoozed_until > now:
            continue  # snoozed: the firing is recorded, nobody is pinged
        for who, zone, escalated in routed(directory, config, rule, item.subject, item.red_days):
            by_recipient[(who, zone)].append((item, escalated))
    held: dict[str, dt.datetime | None] = {}  # per zone, not per recipient
    items: list[Outgoing] = []
    step = next_step(rule.condition)
    for (recipient, zone), seen in by_recipient.items():
        if zone not in held:
            held[zone] = quiet_until(rule, zone, now)
        ordered = sorted(seen, key=lambda pair: pair[0].subject.name)
        lines = [
            AlertLine(
                i.subject.key,
                i.subject.name,
                i.obs.value,
                "",
                i.trend,
                detail=i.detail,
                red_days=i.red_days if rule.escalate_after_red_days is not None else 0,
            )
            for i, _ in ordered
        ]
        how = {i.subject.key: (i, escalated) for i, escalated in ordered}
        parts = [("fire", lines)] if rule.group else [(_part(ln.subject), [ln]) for ln in lines]
        for part, part_lines in parts:
            group = AlertGroup(
                rule.name,
                rule.severity,
                heading,
                label,
                unit,
                tuple(part_lines),
                step=step,
                why=_why(rule, [how[ln.subject] for ln in part_lines]),
            )
            text, blocks = alert_message(group)
            payload = {"text": text, "blocks": blocks, "alert": {"group": group_json(group)}}
            items.append(Outgoing(recipient, part, payload, held[zone]))
    period = fire_period(rule.name, now)
    enqueue_many(session, rhythm=RHYTHM, period_key=period, items=items, now=now)
    return len(items)


def _why(rule: AlertRuleConfig, lines: list[tuple[Seen, str | None]]) -> str:
    """Why a recipient brought in by escalation gets these lines ("" when a configured
    route reaches them for every line)."""
    escalated = [(item.subject.name, item.red_days, how) for item, how in lines if how]
    if not escalated or rule.escalate_after_red_days is None:
        return ""
    return escalation_note(
        [(name, days) for name, days, _ in escalated],
        route="cro" if any(how == "cro" for *_, how in escalated) else "manager",
        after=rule.escalate_after_red_days,
    )


def _part(subject: str) -> str:
    return "fire:" + hashlib.sha1(subject.encode()).hexdigest()[:16]


def group_json(group: AlertGroup) -> dict[str, Any]:
    return {
        "rule": group.rule,
        "severity": group.severity,
        "title": group.title,
        "metric_label": group.metric_label,
        "unit": group.unit,
        "step": group.step,
        "why": group.why,
        "lines": [
            {
                "subject": ln.subject,
                "name": ln.name,
                "value": ln.value,
                "threshold": ln.threshold,
                "trend": list(ln.trend),
                "detail": ln.detail,
                "red_days": ln.red_days,
            }
            for ln in group.lines
        ],
    }
