"""Late and edited MAPLE updates: what the week's digest showed, and the rest in its thread.

The digest (`maple_rhythm.post_digest`) reads the week's submitted updates in one statement
(`submitted_versions`: each reply at its latest submitted revision) and, in the transaction
that enqueues it, records the version of each update it shows (`record_shown`, table
`maple_digest_shown`): a crash loses both or neither. Every submitted version without such a
row — first submitted after the digest, committed while the digest was being built, or an
edit made after it — is posted in the thread of every digest post and recorded
(`post_unshown`). Thread posts are keyed by reply and revision (`late:<reply>:<revision>`)
and records by (reply, revision), so two writers of one version post it once.

Two writers, so that no interleaving loses an update:
- the submission (`maple_rhythm.post_late_update`, from `maple_flow.submit`) posts its own
  version at once when it sees the week's digest done;
- every heartbeat (`maple_rhythm.maple_followups`) posts what a digest finished within
  `SWEEP_WINDOW` did not show, for the digest's audience.
On PostgreSQL (READ COMMITTED) a submission that commits after the digest's read is not in
the digest, and if it checked before the digest committed it did not see the digest
either. The first beat that reads after both committed sees that version without a row and
posts it. A submission that does see the digest done wrote a revision the digest could not
have read (it was not committed yet), so nothing the digest showed is posted again. The
replies about to be posted are locked first (`FOR UPDATE`) and read again: a submission
holds its reply's row until it commits, so an older version is never posted after a newer
one that is still in flight. On SQLite the single writer lock serialises all of this:
whichever writes second sees the other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from metrics.models import Person, Team
from metrics.store import insert_ignore
from rhythms import runs
from rhythms.config import OrgConfig
from rhythms.maple import last_planned
from rhythms.maple_digest import DigestEntry, late_update_message
from rhythms.maple_metrics import metrics_line
from rhythms.models import Delivery, DigestShown, Reply, ReplyRevision, RhythmRun
from rhythms.outbox import enqueue
from rhythms.registry import Recipient, recipient_of

# How long after its digest a week is swept each beat. The race the sweep closes lasts as
# long as a submission's transaction; the rest is room for downtime.
SWEEP_WINDOW = dt.timedelta(days=7)


@dataclass(frozen=True)
class Version:
    """A submitted update at its latest submitted revision."""

    reply_id: int
    person_id: int
    revision_id: int  # 0: a reply with no revision row (written by hand)
    answers: dict[str, Any]
    submitted_at: dt.datetime | None  # the first submission
    saved_at: dt.datetime  # this version


def submitted_versions(
    session: Session, *, rhythm: str, week: str, person_ids: Collection[int] | None = None
) -> dict[int, Version]:
    """The week's submitted updates by person, each at its latest submitted revision, read
    in one statement (one snapshot) as plain values — never the session's `Reply` objects,
    which may hold an older version read earlier in the transaction."""
    in_week = select(Reply.id).where(Reply.rhythm == rhythm, Reply.period_key == week)
    latest = (
        select(ReplyRevision.reply_id, func.max(ReplyRevision.id).label("revision_id"))
        .where(ReplyRevision.status == "submitted", ReplyRevision.reply_id.in_(in_week))
        .group_by(ReplyRevision.reply_id)
        .subquery()
    )
    query = (
        select(
            Reply.id,
            Reply.person_id,
            Reply.submitted_at,
            Reply.updated_at,
            Reply.answers,
            ReplyRevision.id,
            ReplyRevision.answers,
            ReplyRevision.saved_at,
        )
        .outerjoin(latest, latest.c.reply_id == Reply.id)
        .outerjoin(ReplyRevision, ReplyRevision.id == latest.c.revision_id)
        .where(Reply.rhythm == rhythm, Reply.period_key == week, Reply.status == "submitted")
    )
    if person_ids is not None:
        query = query.where(Reply.person_id.in_(list(person_ids)))
    out: dict[int, Version] = {}
    for reply_id, person_id, first, updated, answers, rev_id, rev_answers, saved in session.execute(
        query
    ):
        out[person_id] = Version(
            reply_id=reply_id,
            person_id=person_id,
            revision_id=rev_id or 0,
            answers=dict(rev_answers if rev_id else answers),
            submitted_at=first,
            saved_at=saved if rev_id else updated,
        )
    return out


def shown_revisions(session: Session, *, reply_ids: Collection[int]) -> dict[int, set[int]]:
    """The versions of each reply that the digest or its thread showed."""
    shown: dict[int, set[int]] = {}
    if not reply_ids:
        return shown
    rows = session.execute(
        select(DigestShown.reply_id, DigestShown.revision_id).where(
            DigestShown.reply_id.in_(list(reply_ids))
        )
    )
    for reply_id, revision_id in rows:
        shown.setdefault(reply_id, set()).add(revision_id)
    return shown


def record_shown(
    session: Session, versions: Iterable[Version], *, shown_in: str, now: dt.datetime
) -> None:
    """Record `versions` as shown (idempotent). Caller commits, with the deliveries."""
    rows = [
        dict(reply_id=v.reply_id, revision_id=v.revision_id, shown_in=shown_in, shown_at=now)
        for v in versions
    ]
    insert_ignore(session, DigestShown, rows, keys=["reply_id", "revision_id"])


def _unshown(
    session: Session, name: str, week: str, person_ids: Collection[int] | None
) -> tuple[list[Version], dict[int, set[int]]]:
    """The submitted versions of the week that nothing showed, and what was shown."""
    versions = submitted_versions(session, rhythm=name, week=week, person_ids=person_ids)
    shown = shown_revisions(session, reply_ids=[v.reply_id for v in versions.values()])
    unshown = [v for v in versions.values() if v.revision_id not in shown.get(v.reply_id, ())]
    return unshown, shown


def digest_posted(session: Session, name: str, week: str) -> bool:
    """Has the week's digest run finished (done, deliveries written with it)?"""
    return (
        session.scalars(
            select(RhythmRun.id).where(
                RhythmRun.rhythm == f"{name}_digest",
                RhythmRun.period_key == week,
                RhythmRun.status == runs.DONE,
            )
        ).first()
        is not None
    )


def recent_digest_weeks(session: Session, name: str, now: dt.datetime) -> list[str]:
    """Weeks whose digest finished within `SWEEP_WINDOW` of `now`."""
    return list(
        session.scalars(
            select(RhythmRun.period_key).where(
                RhythmRun.rhythm == f"{name}_digest",
                RhythmRun.status == runs.DONE,
                RhythmRun.finished_at >= now - SWEEP_WINDOW,
            )
        )
    )


def digest_heads(session: Session, name: str, week: str) -> list[Delivery]:
    """The first post of the week's digest, one per audience (DM or channel)."""
    return list(
        session.scalars(
            select(Delivery)
            .where(
                Delivery.rhythm == name,
                Delivery.period_key == f"digest:{week}",
                Delivery.part == "part:0",
                Delivery.thread_of_id.is_(None),
            )
            .order_by(Delivery.id)
        )
    )


def digest_entry(
    session: Session,
    config: OrgConfig,
    name: str,
    week: str,
    who: Recipient,
    answers: dict[str, Any],
    team: str,
    late: bool,
    now: dt.datetime,
) -> DigestEntry:
    """An update as the digest (or its thread) shows it: `answers` with the computed M line
    and last week's plan ticked off."""
    person = session.get(Person, who.person_id)
    assert person is not None
    planned = last_planned(session, rhythm=name, period_key=week, person_id=who.person_id)
    done = {str(i) for i in answers.get("advanced_done", [])}
    return DigestEntry(
        person_name=who.name,
        slack_user_id=who.slack_user_id,
        team_name=team,
        metrics_line=metrics_line(session, config=config, person=person, week=week, now=now),
        answers=answers,
        late=late,
        done_items=tuple(p for i, p in enumerate(planned) if str(i) in done),
        open_items=tuple(p for i, p in enumerate(planned) if str(i) not in done),
    )


def post_unshown(
    session: Session,
    *,
    config: OrgConfig,
    name: str,
    week: str,
    deadline: dt.datetime,
    now: dt.datetime,
    person_ids: Collection[int] | None = None,
) -> int:
    """Once the week's digest is done, post in its thread (every audience it reached) each
    submitted update of `person_ids` (default: everyone) whose current version neither the
    digest nor its thread showed: "Late update" when no version of it was shown, "Edited
    update" when an earlier one was. Returns deliveries written; 0 before the digest (it
    will carry them). Caller commits."""
    if not digest_posted(session, name, week):
        return 0
    heads = digest_heads(session, name, week)
    if not heads:
        return 0
    unshown, shown = _unshown(session, name, week, person_ids)
    if not unshown:
        return 0
    # A submission holds its reply's row from its save to its commit. With the rows of the
    # candidates locked (in id order: sweeps on two replicas do not deadlock), no newer
    # version is in flight, and reading again gives the final word: a version is never
    # posted after a newer one. SQLite has no FOR UPDATE; its writer lock does the same.
    session.execute(
        select(Reply.id)
        .where(Reply.id.in_([v.reply_id for v in unshown]))
        .order_by(Reply.id)
        .with_for_update()
    ).all()
    unshown, shown = _unshown(session, name, week, [v.person_id for v in unshown])
    teams = {t.key: t.name for t in session.scalars(select(Team))}
    zone = ZoneInfo(config.org.timezone)
    count = 0
    for version in sorted(unshown, key=lambda v: (v.saved_at, v.reply_id)):
        person = session.get(Person, version.person_id)
        assert person is not None
        late = version.submitted_at is not None and version.submitted_at > deadline
        team = teams.get(person.team_key or "", "No team")
        who = recipient_of(person, config)
        entry = digest_entry(session, config, name, week, who, version.answers, team, late, now)
        when = version.saved_at.astimezone(zone).strftime("%a %H:%M %Z").strip()
        payload = late_update_message(
            entry, submitted=when, edited=bool(shown.get(version.reply_id))
        )
        for head in heads:
            enqueue(
                session,
                rhythm=name,
                period_key=f"digest:{week}",
                recipient=head.recipient,
                part=f"late:{version.reply_id}:{version.revision_id}",
                thread_of_id=head.id,
                now=now,
                payload=payload,
            )
        record_shown(session, [version], shown_in="thread", now=now)
        count += len(heads)
    return count
