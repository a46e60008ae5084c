"""The MAPLE interactions as services: open the modal, save a draft, submit, acknowledge.

`bot.listeners.maple` calls these in a worker thread and owns nothing but the Slack calls.
Every function takes a session and commits nothing; the listener commits *before* it
acknowledges a submission, so a closed modal always means a stored reply.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from metrics.directory import person_timezone
from metrics.models import Person
from rhythms.config import OrgConfig, RhythmConfig
from rhythms.maple import get_reply, last_planned, maple_rhythms, revisions, save_reply, week_label
from rhythms.maple_emergency import escalate_emergency, resolve_emergency
from rhythms.maple_metrics import metrics_text
from rhythms.maple_modal import ModalContext, maple_modal, modal_metadata, parse_submission
from rhythms.maple_rhythm import current_week, post_late_update
from rhythms.outbox import enqueue

SWITCHED_OFF = (
    "MAPLE updates are switched off for this workspace, so there is no update to fill in. "
    "An admin can switch them back on in Drumbeat's App Home (Rhythm switchboard)."
)


class MapleError(ValueError):
    """Something the person should be told plainly (not registered, MAPLE switched off...)."""


def person_by_slack_id(session: Session, slack_user_id: str) -> Person:
    people = list(session.scalars(select(Person).where(Person.slack_user_id == slack_user_id)))
    person = next((p for p in people if p.active), None)
    if person is None and people:
        raise MapleError(
            "Your Drumbeat account is deactivated, so MAPLE updates are not open to you. "
            "If that's a mistake, ask your RevOps admin to reactivate you in drumbeat.toml."
        )
    if person is None:
        raise MapleError(
            "You're not in Drumbeat's directory yet: ask your RevOps admin to add "
            "you to drumbeat.toml."
        )
    return person


def _rhythm(
    session: Session, config: OrgConfig, requested: str | None, *, enabled_only: bool = True
) -> tuple[str, RhythmConfig]:
    """The MAPLE rhythm asked for (else the first), as in effect (switchboard applied);
    MapleError when it is switched off. `enabled_only=False`: an update typed before the
    switch went off can still be saved."""
    rhythms = maple_rhythms(session, config, enabled_only=enabled_only)
    if requested and requested in rhythms:
        return requested, rhythms[requested]
    switched_off = (
        requested is not None
        and requested in config.rhythms
        and config.rhythm_kind(requested) == "maple"
    )
    if not rhythms or switched_off:
        raise MapleError(SWITCHED_OFF)
    name = next(iter(rhythms))  # no such rhythm (renamed since the button was sent)
    return name, rhythms[name]


def modal_for(
    session: Session,
    *,
    config: OrgConfig,
    slack_user_id: str,
    now: dt.datetime,
    rhythm: str | None = None,
    week: str | None = None,
    with_metrics: bool = True,
    enabled_only: bool = True,
) -> dict[str, Any]:
    """The modal for the person's current (or given) week, pre-filled with what they saved.
    MapleError (a message for the person, no modal) when MAPLE is switched off."""
    person = person_by_slack_id(session, slack_user_id)
    name, effective = _rhythm(session, config, rhythm, enabled_only=enabled_only)
    zone = person_timezone(person, config.org.timezone)
    week = week or current_week(effective, zone, now)
    reply = get_reply(session, rhythm=name, period_key=week, person_id=person.id)
    note = None
    if reply is not None:
        when = reply.updated_at.astimezone(ZoneInfo(zone)).strftime("%a %H:%M")
        note = (
            f"Submitted — editing keeps the earlier version · last saved {when}"
            if reply.status == "submitted"
            else f"Draft restored · saved {when}"
        )
    hints = tuple((k, str(v)) for k, v in (effective.options.get("hints") or {}).items())
    ctx = ModalContext(
        rhythm=name,
        period_key=week,
        person_id=person.id,
        week_label=week_label(week),
        metrics_text=(
            metrics_text(session, config=config, person=person, week=week, now=now)
            if with_metrics
            else "_Loading your numbers…_"
        ),
        last_planned=tuple(
            last_planned(session, rhythm=name, period_key=week, person_id=person.id)
        ),
        hints=hints,
        status_note=note,
    )
    return maple_modal(ctx, reply.answers if reply is not None else None)


@dataclass
class SubmitOutcome:
    errors: dict[str, str] = field(default_factory=dict)
    stored: bool = False
    escalated: int = 0
    late_posted: int = 0  # after the digest: deliveries of the late update to its readers
    unchanged: bool = False  # the same answers again: nothing new stored or sent
    view: dict[str, Any] | None = None  # for drafts: the modal to show again


def submit(
    session: Session,
    *,
    config: OrgConfig,
    view: dict[str, Any],
    slack_user_id: str,
    now: dt.datetime,
    draft: bool = False,
) -> SubmitOutcome:
    """Validate and store a submission (or draft); escalate a new emergency at once."""
    try:
        meta = modal_metadata(view)
    except ValueError:
        return SubmitOutcome(
            errors={
                "advanced": "This form is out of date: close it and open "
                "MAPLE again (your text is below)."
            }
        )
    person = person_by_slack_id(session, slack_user_id)
    if meta["person"] != person.id:
        return SubmitOutcome(errors={"advanced": "This update belongs to someone else."})
    answers, errors = parse_submission(view, draft=draft)
    if errors:
        return SubmitOutcome(errors=errors)
    saved = save_reply(
        session,
        rhythm=meta["rhythm"],
        period_key=meta["period"],
        person_id=person.id,
        answers=answers,
        submit=not draft,
        now=now,
    )
    outcome = SubmitOutcome(stored=True, unchanged=saved.unchanged)
    if draft:
        outcome.view = modal_for(
            session,
            config=config,
            slack_user_id=slack_user_id,
            now=now,
            rhythm=meta["rhythm"],
            week=meta["period"],
            enabled_only=False,
        )
        return outcome
    if saved.unchanged:  # a double click, or two submissions racing: said once already
        return outcome
    if saved.emergency_changed:
        revision = len(revisions(session, reply_id=saved.reply.id))
        outcome.escalated = escalate_emergency(
            session, config=config, reply=saved.reply, author=person, revision=revision, now=now
        )
    elif saved.emergency_cleared:
        resolve_emergency(session, reply=saved.reply, author=person, now=now)
    # after the digest, this version (first or edited) goes into the digest's thread
    outcome.late_posted = post_late_update(
        session, config=config, reply=saved.reply, person=person, now=now
    )
    if outcome.late_posted and saved.first_submission:
        verb = (
            "is in — after this week's digest went out, so it was added to the digest's "
            "thread as a late update"
        )
    elif outcome.late_posted:
        verb = (
            "was updated (the earlier version is kept) — after this week's digest went "
            "out, so the new version was added to the digest's thread"
        )
    elif saved.first_submission:
        verb = "is in"
    else:
        verb = "was updated (the earlier version is kept)"
    enqueue(
        session,
        rhythm=meta["rhythm"],
        period_key=f"thanks:{meta['period']}",
        recipient=slack_user_id,
        part=f"rev:{len(revisions(session, reply_id=saved.reply.id))}",
        now=now,
        payload={
            "text": f"✅ Your MAPLE update for {week_label(meta['period'])} "
            f"{verb}." + (" Emergency escalated to leadership." if outcome.escalated else "")
        },
    )
    return outcome
