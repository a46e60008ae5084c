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
from rhythms.config import OrgConfig
from rhythms.maple import get_reply, last_planned, maple_rhythms, revisions, save_reply, week_label
from rhythms.maple_emergency import escalate_emergency
from rhythms.maple_metrics import metrics_text
from rhythms.maple_modal import ModalContext, maple_modal, modal_metadata, parse_submission
from rhythms.maple_rhythm import current_week
from rhythms.outbox import enqueue


class MapleError(ValueError):
    """Something the person should be told plainly (not registered, MAPLE switched off...)."""


def person_by_slack_id(session: Session, slack_user_id: str) -> Person:
    person = session.scalars(
        select(Person).where(Person.slack_user_id == slack_user_id, Person.active.is_(True))
    ).first()
    if person is None:
        raise MapleError(
            "You're not in Drumbeat's directory yet: ask your RevOps admin to add "
            "you to drumbeat.toml."
        )
    return person


def _rhythm_name(config: OrgConfig, requested: str | None) -> str:
    rhythms = maple_rhythms(config)
    if requested and requested in rhythms:
        return requested
    if not rhythms:
        raise MapleError("MAPLE updates are switched off for this workspace.")
    return next(iter(rhythms))


def modal_for(
    session: Session,
    *,
    config: OrgConfig,
    slack_user_id: str,
    now: dt.datetime,
    rhythm: str | None = None,
    week: str | None = None,
    with_metrics: bool = True,
) -> dict[str, Any]:
    """The modal for the person's current (or given) week, pre-filled with what they saved."""
    person = person_by_slack_id(session, slack_user_id)
    name = _rhythm_name(config, rhythm)
    zone = person_timezone(person, config.org.timezone)
    week = week or current_week(config.rhythms[name], zone, now)
    reply = get_reply(session, rhythm=name, period_key=week, person_id=person.id)
    note = None
    if reply is not None:
        when = reply.updated_at.astimezone(ZoneInfo(zone)).strftime("%a %H:%M")
        note = (
            f"Submitted — editing keeps the earlier version · last saved {when}"
            if reply.status == "submitted"
            else f"Draft restored · saved {when}"
        )
    hints = tuple((k, str(v)) for k, v in (config.rhythms[name].options.get("hints") or {}).items())
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
    outcome = SubmitOutcome(stored=True)
    if draft:
        outcome.view = modal_for(
            session,
            config=config,
            slack_user_id=slack_user_id,
            now=now,
            rhythm=meta["rhythm"],
            week=meta["period"],
        )
        return outcome
    if saved.emergency_changed:
        revision = len(revisions(session, reply_id=saved.reply.id))
        outcome.escalated = escalate_emergency(
            session, config=config, reply=saved.reply, author=person, revision=revision, now=now
        )
    verb = "is in" if saved.first_submission else "was updated (the earlier version is kept)"
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
