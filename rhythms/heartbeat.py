"""The heartbeat: everything time-driven that the scheduler runs once a minute.

1. the rhythm engine's tick (scoreboards, MAPLE prompts, control tower, review, game plan);
2. MAPLE follow-ups (reminders, the digest at the deadline, emergency re-raises);
3. alert rules whose check is due (`rhythms.alert_schedule`: at the `alerts` rhythm's
   firings, as retimed on the switchboard) after ending the firings whose day is over; while
   the `alerts` rhythm is off, only the ending: every firing alert ends ("stopped"), so no
   view lists alerts nobody evaluates (`rhythms.alert_expiry`).

Each part commits on its own and a failure in one is recorded and reported without stopping
the others; the next beat retries. Several replicas may beat at once: every part claims its
work through unique keys in the database.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from metrics.clock import Clock
from rhythms.alert_expiry import end_stale
from rhythms.alert_schedule import alerts_enabled
from rhythms.alerts import evaluate_rules
from rhythms.config import OrgConfig
from rhythms.engine import RhythmEngine, TickReport
from rhythms.maple_rhythm import FollowupReport, maple_followups
from rhythms.outbox import enqueue

__all__ = ["Beat", "alerts_enabled", "heartbeat"]

log = logging.getLogger(__name__)


@dataclass
class Beat:
    tick: TickReport | None = None
    followups: FollowupReport | None = None
    alerts_fired: int = 0
    errors: list[str] = field(default_factory=list)


def heartbeat(
    *,
    session_factory: Callable[[], Session],
    config: OrgConfig,
    clock: Clock,
    engine: RhythmEngine,
    replica: str = "local",
) -> Beat:
    beat = Beat()
    try:
        beat.tick = engine.tick()
    except Exception as exc:
        beat.errors.append(_failed("rhythm tick", exc))
    now = clock.now()
    try:
        with session_factory() as session:
            beat.followups = maple_followups(session, config=config, now=now, replica=replica)
            session.commit()
    except Exception as exc:
        beat.errors.append(_failed("MAPLE follow-ups", exc))
    try:
        with session_factory() as session:
            if alerts_enabled(session, config):
                results = evaluate_rules(session, config=config, now=now, replica=replica)
                beat.alerts_fired = sum(len(r.fired) for r in results)
            else:
                end_stale(session, config=config, now=now, alerts_on=False)
            session.commit()
    except Exception as exc:
        beat.errors.append(_failed("alert evaluation", exc))
    if beat.errors:
        _tell_admin(session_factory, config, now, beat.errors)
    return beat


def _failed(what: str, exc: Exception) -> str:
    log.exception("%s failed", what)
    return f"{what} failed: {type(exc).__name__}: {str(exc)[:300]}"


def _tell_admin(
    session_factory: Callable[[], Session], config: OrgConfig, now: dt.datetime, errors: list[str]
) -> None:
    """One admin-channel message per failing part per hour (never a flood)."""
    channel = config.slack.admin_channel
    if not channel:
        return
    try:
        with session_factory() as session:
            for error in errors:
                part = error.split(" failed")[0].replace(" ", "_")[:32]
                enqueue(
                    session,
                    rhythm="heartbeat",
                    period_key=f"{now:%Y-%m-%dT%H}",
                    recipient=channel,
                    part=part,
                    now=now,
                    payload={"text": f"⚠️ Drumbeat: {error}. It will retry every minute."},
                )
            session.commit()
    except Exception:
        log.exception("could not report heartbeat errors to %s", channel)
