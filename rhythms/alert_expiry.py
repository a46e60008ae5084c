"""Firing alerts that nobody evaluates any more end, and every view agrees.

Rules look only at subjects inside their working hours, and at nothing while alerts are
switched off, so a firing left alone would stay "firing" overnight, over a weekend, or for
good once alerts are off. It ends instead (`alert_state.end_states`):

- ``expired`` at the end of the day it fired on, in its subject's zones (a team's or the
  org's: its people's, the last of them): the end of working hours for a rule that checks
  only then (`working_hours_only`, the default), else local midnight. A pending breach ends
  the same way, silently. The next day starts afresh: still behind, it fires again.
- ``stopped`` when alerts are switched off, or its rule was disabled or removed from the
  config.

A firing that ends has its messages rewritten ("🌙 Day over" / "⏸ Alerts off") and an
``expire`` event in the log. `end_stale` runs before the rules at every check and at every
heartbeat while alerts are off; `firing_now` is what views list (the App Home, `/drumbeat
alerts`): the firing rows less those `end_stale` would end, so a view read before the next
heartbeat shows the same thing. MAPLE emergencies (`rhythms.maple_emergency`) live in the
same table with a lifecycle of their own and are left alone.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.calendar import WorkCalendar
from metrics.group_values import plain
from metrics.scoreboards import work_calendar
from rhythms.alert_people import subject_zones
from rhythms.alert_refresh import refresh_messages
from rhythms.alert_schedule import alerts_enabled
from rhythms.alert_state import State, end_states
from rhythms.config import AlertRuleConfig, OrgConfig
from rhythms.maple_emergency import EMERGENCY_RULE
from rhythms.models import AlertState

DAY_OVER = "the subject's day is over"
SWITCHED_OFF = "alerts are switched off"
RULE_GONE = "the rule is disabled or no longer in the config"


def day_end(
    work: WorkCalendar, rule: AlertRuleConfig, zones: tuple[str, ...], at: dt.datetime
) -> dt.datetime:
    """When the day `at` belongs to ends for a subject living in `zones`: the latest, over
    the zones, of the end of working hours (or of the day, for a rule checked around the
    clock) on `at`'s local date."""
    ends = []
    for zone in zones:
        tz = ZoneInfo(zone)
        day = at.astimezone(tz).date()
        if rule.working_hours_only:
            end = dt.datetime.combine(day, work.config.workday_end, tzinfo=tz)
        else:
            end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
        ends.append(end.astimezone(dt.UTC))
    return max(ends)


def _open_rows(session: Session) -> list[Any]:
    query = select(
        AlertState.rule,
        AlertState.subject,
        AlertState.state,
        AlertState.since,
        AlertState.fired_at,
    ).where(AlertState.state.in_(("firing", "pending")), AlertState.rule != EMERGENCY_RULE)
    return list(plain(session).execute(query).all())


def stale(
    session: Session, *, config: OrgConfig, now: dt.datetime, alerts_on: bool
) -> dict[tuple[str, str], tuple[State, str]]:
    """(rule, subject) -> (``expired`` / ``stopped``, why) for every firing or pending state
    that should end at `now`."""
    rows = _open_rows(session)
    if not rows:
        return {}
    rules = {r.name: r for r in config.alerts if r.enabled}
    out: dict[tuple[str, str], tuple[State, str]] = {}
    wanted: dict[str, frozenset[str]] = {}
    for row in rows:
        rule = rules.get(row.rule)
        if not alerts_on or rule is None:
            out[(row.rule, row.subject)] = ("stopped", SWITCHED_OFF if not alerts_on else RULE_GONE)
            continue
        roles = frozenset(rule.scope.roles) or frozenset({"rep"})
        wanted[row.subject] = wanted.get(row.subject, frozenset()) | roles
    if len(out) == len(rows):
        return out
    zones = subject_zones(session, org_timezone=config.org.timezone, subjects=wanted)
    work = work_calendar(config)
    for row in rows:
        rule = rules.get(row.rule)
        if (row.rule, row.subject) in out or rule is None:
            continue
        began = row.fired_at if row.state == "firing" and row.fired_at else row.since
        if now >= day_end(work, rule, zones[row.subject], began):
            out[(row.rule, row.subject)] = ("expired", DAY_OVER)
    return out


def end_stale(
    session: Session, *, config: OrgConfig, now: dt.datetime, alerts_on: bool = True
) -> int:
    """End what `stale` finds and rewrite the messages of the firings that ended; how many
    firings ended (pending states end too, silently). The caller commits."""
    by_rule: dict[str, dict[str, tuple[State, str]]] = defaultdict(dict)
    for (rule, subject), end in stale(session, config=config, now=now, alerts_on=alerts_on).items():
        by_rule[rule][subject] = end
    ended = 0
    for rule, ends in sorted(by_rule.items()):
        done = end_states(session, rule=rule, ends=ends, now=now)
        firings = sorted({t.fired_at for t in done if t.emit == "expire" and t.fired_at})
        ended += sum(1 for t in done if t.emit == "expire")
        for fired_at in firings:  # each firing's messages rewritten once
            refresh_messages(session, config=config, rule=rule, fired_at=fired_at, now=now)
    return ended


def firing_now(session: Session, *, config: OrgConfig, now: dt.datetime) -> list[AlertState]:
    """The firing alert states a view should list at `now`, latest first: those that
    `end_stale` would not end (MAPLE emergencies included, as they are)."""
    rows = session.scalars(
        select(AlertState)
        .where(AlertState.state == "firing")
        .order_by(AlertState.fired_at.desc(), AlertState.rule, AlertState.subject)
    ).all()
    if not rows:
        return []
    gone = stale(session, config=config, now=now, alerts_on=alerts_enabled(session, config))
    return [r for r in rows if (r.rule, r.subject) not in gone]
