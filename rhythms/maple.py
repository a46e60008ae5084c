"""MAPLE replies: storing answers with history, continuity of plans, participation.

A reply is keyed by (rhythm, period_key = ISO week like ``2026-W47``, person). Every save
(draft or submission, first or edit) that changes something also writes a `ReplyRevision`,
so an edit never loses what was there; saving the same answers again (a double click, two
submissions racing) writes nothing. Callers own the transaction: the bot commits *before*
closing the modal, so a failed commit keeps the modal open with the person's text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from rhythms.config import OrgConfig, RhythmConfig
from rhythms.maple_modal import planned_items
from rhythms.models import Reply, ReplyRevision, RhythmOverride
from rhythms.switchboard import effective

Timeliness = Literal["on_time", "late", "missing"]


def week_key(day: dt.date) -> str:
    """ISO week of a local day: ``2026-W47``."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_bounds(key: str) -> tuple[dt.date, dt.date]:
    """Monday and Sunday of an ISO week key; ValueError on a malformed key."""
    try:
        year_text, week_text = key.split("-W")
        monday = dt.date.fromisocalendar(int(year_text), int(week_text), 1)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{key!r} is not an ISO week like 2026-W47") from exc
    return monday, monday + dt.timedelta(days=6)


def previous_week_key(key: str) -> str:
    monday, _ = week_bounds(key)
    return week_key(monday - dt.timedelta(days=7))


def week_label(key: str) -> str:
    monday, sunday = week_bounds(key)
    return f"Week {monday.isocalendar()[1]} · {monday:%b} {monday.day}–{sunday:%b} {sunday.day}"


def get_reply(session: Session, *, rhythm: str, period_key: str, person_id: int) -> Reply | None:
    return session.scalars(
        select(Reply).where(
            Reply.rhythm == rhythm, Reply.period_key == period_key, Reply.person_id == person_id
        )
    ).first()


@dataclass(frozen=True)
class SaveResult:
    reply: Reply
    first_submission: bool  # this save turned a draft (or nothing) into a submission
    emergency_changed: bool  # submitted Emergencies text, new or different from the last submission
    emergency_cleared: bool = False  # the last submission had an emergency, this one has none
    unchanged: bool = False  # the same answers saved again: nothing written


def save_reply(
    session: Session,
    *,
    rhythm: str,
    period_key: str,
    person_id: int,
    answers: dict[str, Any],
    submit: bool,
    now: dt.datetime,
) -> SaveResult:
    """Store a draft or a submission; keep every version in `reply_revisions`.

    Saving a draft over a submitted reply keeps it submitted (the draft becomes the current
    text only when submitted again), so a stray "Save draft" never un-submits an update.
    """
    reply = get_reply(session, rhythm=rhythm, period_key=period_key, person_id=person_id)
    was_submitted = reply is not None and reply.status == "submitted"
    # What leadership last saw: the submitted answers (a draft over a submission does not
    # replace them; a reply never submitted has shown nothing, whatever its draft holds).
    before = dict(reply.answers) if reply is not None and was_submitted else {}
    if reply is not None and _same_as_last_save(session, reply, answers, submit=submit):
        return SaveResult(
            reply=reply, first_submission=False, emergency_changed=False, unchanged=True
        )
    if reply is None:
        reply = Reply(
            rhythm=rhythm,
            period_key=period_key,
            person_id=person_id,
            status="draft",
            answers={},
            updated_at=now,
            reminders_sent=0,
        )
        session.add(reply)
    status = "submitted" if submit or was_submitted else "draft"
    if submit or not was_submitted:
        reply.answers = dict(answers)
    reply.status = status
    reply.updated_at = now
    if submit and reply.submitted_at is None:
        reply.submitted_at = now
    session.flush()
    session.add(
        ReplyRevision(
            reply_id=reply.id,
            status="submitted" if submit else "draft",
            answers=dict(answers),
            saved_at=now,
        )
    )
    session.flush()
    emergency = (answers.get("emergencies") or "").strip()
    previous = (before.get("emergencies") or "").strip()
    return SaveResult(
        reply=reply,
        first_submission=submit and not was_submitted,
        emergency_changed=submit and bool(emergency) and emergency != previous,
        emergency_cleared=submit and bool(previous) and not emergency,
    )


def _same_as_last_save(
    session: Session, reply: Reply, answers: dict[str, Any], *, submit: bool
) -> bool:
    """Would this save change nothing? A submission equal to the submitted answers; a draft
    equal to the latest saved version (draft or submission)."""
    if submit:
        return reply.status == "submitted" and dict(reply.answers) == dict(answers)
    latest = session.scalars(
        select(ReplyRevision)
        .where(ReplyRevision.reply_id == reply.id)
        .order_by(ReplyRevision.saved_at.desc(), ReplyRevision.id.desc())
        .limit(1)
    ).first()
    current = latest.answers if latest is not None else reply.answers
    return dict(current) == dict(answers)


def revisions(session: Session, *, reply_id: int) -> list[ReplyRevision]:
    return list(
        session.scalars(
            select(ReplyRevision)
            .where(ReplyRevision.reply_id == reply_id)
            .order_by(ReplyRevision.saved_at, ReplyRevision.id)
        )
    )


def last_planned(session: Session, *, rhythm: str, period_key: str, person_id: int) -> list[str]:
    """The person's Planned items from the week before `period_key` (submitted replies only)."""
    prev = get_reply(
        session, rhythm=rhythm, period_key=previous_week_key(period_key), person_id=person_id
    )
    if prev is None or prev.status != "submitted":
        return []
    return planned_items(str(prev.answers.get("planned") or ""))


@dataclass(frozen=True)
class Participation:
    on_time: tuple[int, ...]
    late: tuple[int, ...]
    missing: tuple[int, ...]

    @property
    def answered_share(self) -> float:
        total = len(self.on_time) + len(self.late) + len(self.missing)
        return (len(self.on_time) + len(self.late)) / total if total else 0.0


def participation(
    session: Session, *, rhythm: str, period_key: str, person_ids: list[int], deadline: dt.datetime
) -> Participation:
    """Who answered by the deadline, who answered after it, who has not (drafts count missing)."""
    submitted = {
        person_id: submitted_at
        for person_id, submitted_at in session.execute(
            select(Reply.person_id, Reply.submitted_at).where(
                Reply.rhythm == rhythm,
                Reply.period_key == period_key,
                Reply.person_id.in_(person_ids),
                Reply.status == "submitted",
            )
        )
    }
    return participation_of(submitted, person_ids=person_ids, deadline=deadline)


def participation_of(
    submitted: Mapping[int, dt.datetime | None], *, person_ids: list[int], deadline: dt.datetime
) -> Participation:
    """`participation` from the first-submission times of the submitted replies, by person
    (what the digest read: its counts agree with the updates it shows)."""
    buckets: dict[Timeliness, list[int]] = {"on_time": [], "late": [], "missing": []}
    for pid in person_ids:
        submitted_at = submitted.get(pid)
        if submitted_at is None:
            buckets["missing"].append(pid)
        elif submitted_at <= deadline:
            buckets["on_time"].append(pid)
        else:
            buckets["late"].append(pid)
    return Participation(
        tuple(buckets["on_time"]), tuple(buckets["late"]), tuple(buckets["missing"])
    )


def maple_rhythms(
    session: Session, config: OrgConfig, *, enabled_only: bool = True
) -> dict[str, RhythmConfig]:
    """The org's rhythms of the MAPLE kind, by name, as they are in effect: the config with
    the App Home switchboard's override (`enabled`, `schedule`) on top, the way the engine
    plans the prompt. Only the enabled ones unless `enabled_only` is false."""
    names = [name for name in config.rhythms if config.rhythm_kind(name) == "maple"]
    if not names:
        return {}
    overrides = {
        o.rhythm: o
        for o in session.scalars(select(RhythmOverride).where(RhythmOverride.rhythm.in_(names)))
    }
    out = {name: effective(config, overrides.get(name), name) for name in names}
    return {name: r for name, r in out.items() if r.enabled or not enabled_only}
