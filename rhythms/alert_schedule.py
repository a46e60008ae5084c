"""When alert rules are checked: at the `alerts` rhythm's firings, each rule at most once
every `every_minutes`.

The `alerts` rhythm's schedule (as in effect: `drumbeat.toml`, then the switchboard's
override) is when alerts may be checked, so retiming it does what the switchboard says:
`0 12 * * mon-fri` checks the rules at 12:00 on weekdays and at no other time. With
``timezone = "recipient"`` it fires in each zone people live in (12:00 in New York for the
New York reps, three hours later for the Los Angeles ones); a fixed zone checks everybody
at its firings. A rule's `every_minutes` is the least time between two checks in one zone:
with `*/30 9-18 * * mon-fri`, a rule of every 30 minutes is checked at every firing, one of
240 at 09:00, 13:00 and 17:00, one of 1440 at 09:00. A firing is checked late (after
downtime) within the rhythm's `grace_minutes`, never further back; firings on non-working
days are not checks when the rhythm has `working_days_only` (the default).

Each check is a rhythm run ``alerts:RULE`` keyed by the firing's local time and zone
(``2026-11-25T1200:America/New_York``), claimed before the rule runs, so replicas never
check a firing twice. Without any `alerts` rhythm in the config the rules run on their own
slots of `every_minutes` (UTC-aligned, in every zone at once), as before schedules applied.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from metrics.calendar import WorkCalendar
from rhythms import runs
from rhythms.config import AlertRuleConfig, OrgConfig, RhythmConfig
from rhythms.models import RhythmOverride
from rhythms.schedule import firings
from rhythms.switchboard import effective

RHYTHM = "alerts"


@dataclass(frozen=True)
class Check:
    """One due check of a rule: its run's key and time, and the zones it covers."""

    period_key: str
    at: dt.datetime  # aware UTC: the firing (or slot start) it stands for
    zones: frozenset[str] | None  # None: every zone


def alerts_rhythms(session: Session, config: OrgConfig) -> list[RhythmConfig] | None:
    """The `alerts` rhythms as in effect (switchboard on top); None when the config has none
    (the rules then run by default, on their own slots)."""
    names = [n for n in config.rhythms if config.rhythm_kind(n) == RHYTHM]
    if not names:
        return None
    return [effective(config, session.get(RhythmOverride, n), n) for n in names]


def alerts_enabled(session: Session, config: OrgConfig) -> bool:
    """Whether alert rules are checked at all: an `alerts` rhythm is on (or, with none in the
    config, there are rules)."""
    rhythms = alerts_rhythms(session, config)
    if rhythms is None:
        return bool(config.alerts)  # rules without an `alerts` rhythm entry run by default
    return any(r.enabled for r in rhythms)


def slot_key(rule: AlertRuleConfig, now: dt.datetime) -> str:
    return _slot_start(rule, now).strftime("%Y-%m-%dT%H:%MZ")


def _slot_start(rule: AlertRuleConfig, now: dt.datetime) -> dt.datetime:
    minutes = int(now.timestamp() // 60)
    start = minutes - minutes % rule.every_minutes
    return dt.datetime.fromtimestamp(start * 60, dt.UTC)


Latest = dict[str, tuple[dt.datetime, str, frozenset[str] | None]]


def latest_firings(
    rhythms: list[RhythmConfig], *, zones: set[str], work: WorkCalendar, now: dt.datetime
) -> Latest:
    """Per zone, the latest firing of the enabled `alerts` rhythms within their grace window:
    (instant, run key, zones it covers: None for a fixed-zone rhythm, i.e. everybody). The
    same for every rule: computed once per tick."""
    latest: Latest = {}
    for rhythm in rhythms:
        if not rhythm.enabled:
            continue
        window = dt.timedelta(minutes=max(rhythm.grace_minutes, 1))
        fixed = rhythm.timezone != "recipient"
        for zone in sorted({rhythm.timezone} if fixed else zones):
            found = [
                f
                for f in firings(RHYTHM, rhythm.schedule, zone, now - window, now)
                if not rhythm.working_days_only or work.is_working_day(f.local.date())
            ]
            if found and (zone not in latest or latest[zone][0] < found[-1].at):
                key = f"{found[-1].local:%Y-%m-%dT%H%M}:{zone}"
                latest[zone] = (found[-1].at, key, None if fixed else frozenset({zone}))
    return latest


def due_checks(
    session: Session, *, rule: AlertRuleConfig, latest: Latest | None, now: dt.datetime
) -> list[Check]:
    """The checks of `rule` due at `now`: each zone's latest firing (`latest_firings`; None
    without an `alerts` rhythm: the rule's own slot) unless the rule was checked in that zone
    less than `every_minutes` before it."""
    if latest is None:
        return [Check(slot_key(rule, now), _slot_start(rule, now), None)]
    if not latest:
        return []
    every = dt.timedelta(minutes=rule.every_minutes)
    checked = _last_checks(session, rule=rule, since=now - every - dt.timedelta(days=1))
    return [
        Check(key, at, covers)
        for zone, (at, key, covers) in sorted(latest.items())
        if zone not in checked or at - checked[zone] >= every
    ]


def _last_checks(
    session: Session, *, rule: AlertRuleConfig, since: dt.datetime
) -> dict[str, dt.datetime]:
    """Per zone, the latest firing this rule was checked at (its runs since `since`)."""
    out: dict[str, dt.datetime] = {}
    for key, at in runs.recent_keys(session, rhythm=f"{RHYTHM}:{rule.name}", since=since):
        stamp, sep, zone = key.partition(":")
        if not sep or len(stamp) != 15 or not stamp[11:].isdigit():
            continue  # a slot key of the schedule-less mode ("2026-11-25T17:00Z")
        if zone not in out or out[zone] < at:
            out[zone] = at
    return out
