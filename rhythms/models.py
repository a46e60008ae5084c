"""Tables for the rhythms: runs, the delivery outbox, replies, alert state, overrides, audit.

Idempotency lives in unique keys:
- `rhythm_runs (rhythm, period_key)`: a rhythm fires once per period, however many
  schedulers race for it;
- `deliveries (rhythm, period_key, recipient, part)`: one message per recipient per period;
- `replies (rhythm, period_key, person_id)`: one MAPLE/game-plan answer per person per period;
- `maple_digest_shown (reply_id, revision_id)`: each version of a MAPLE update shown once;
- `alert_states (rule, subject)`: one state machine per rule and subject.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from metrics.models import BigId
from metrics.store import Base, UTCDateTime


class RhythmRun(Base):
    """One firing of a rhythm for one period: planned → running → done | skipped | failed."""

    __tablename__ = "rhythm_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rhythm: Mapped[str] = mapped_column(String(64))
    period_key: Mapped[str] = mapped_column(String(128))
    scheduled_for: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="planned")
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deliveries: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("rhythm", "period_key"),
        Index("ix_rhythm_runs_status", "status", "scheduled_for"),
    )


class Delivery(Base):
    """An outbox row: what to post where. Rhythms write these; `bot/` sends them.

    status: pending → claimed → sent | failed (retryable, `not_before` set) | dead (for good)
    | expired (`expires_at` passed before it could be sent; never sent late).
    `kind` is one of message, update, ephemeral, upload, view_publish, delete.
    """

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("rhythm_runs.id", ondelete="SET NULL"))
    rhythm: Mapped[str] = mapped_column(String(64))
    period_key: Mapped[str] = mapped_column(String(128))
    recipient: Mapped[str] = mapped_column(String(64))  # Slack user id or channel id/name
    part: Mapped[str] = mapped_column(String(32), default="main")
    kind: Mapped[str] = mapped_column(String(16), default="message")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    thread_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    channel: Mapped[str | None] = mapped_column(String(64))
    ts: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # after this the delivery is no longer worth sending (None: rows from before 0005)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("rhythm", "period_key", "recipient", "part"),
        Index("ix_deliveries_due", "status", "not_before"),
        Index("ix_deliveries_run", "run_id"),
    )


class Reply(Base):
    """A person's answer to a prompt (MAPLE, game plan) for one period; `answers` is current."""

    __tablename__ = "replies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rhythm: Mapped[str] = mapped_column(String(64))
    period_key: Mapped[str] = mapped_column(String(128))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | submitted
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (UniqueConstraint("rhythm", "period_key", "person_id"),)


class ReplyRevision(Base):
    """Every saved version of a reply, so an edit keeps history."""

    __tablename__ = "reply_revisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reply_id: Mapped[int] = mapped_column(ForeignKey("replies.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    saved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_reply_revisions_reply", "reply_id", "saved_at"),)


class DigestShown(Base):
    """A version of a MAPLE update that its week's digest showed: in the digest itself
    (`shown_in` "digest", written in the transaction that enqueues the digest) or in the
    digest's thread ("thread": a late or edited update; "backfill": replies of digests
    posted before migration 0006). A submitted version with no row here is posted in the
    thread (`rhythms.maple_late`).

    `revision_id` is the reply's latest submitted `reply_revisions` row when it was shown,
    0 for a reply with none (written by hand); no foreign key, the reply's cascade covers it.
    """

    __tablename__ = "maple_digest_shown"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reply_id: Mapped[int] = mapped_column(ForeignKey("replies.id", ondelete="CASCADE"))
    revision_id: Mapped[int] = mapped_column(BigId)
    shown_in: Mapped[str] = mapped_column(String(16))  # digest | thread | backfill
    shown_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("reply_id", "revision_id"),)


class AlertState(Base):
    """The state machine of one alert rule for one subject (person, team or org).

    state: ok | pending | firing | resolved. `version` guards concurrent evaluators
    (compare-and-set), so two replicas never fire the same transition twice.
    """

    __tablename__ = "alert_states"

    rule: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="ok")
    since: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_value: Mapped[float | None] = mapped_column(Float)
    last_evaluated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    fired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cooldown_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    snoozed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acked_by: Mapped[str | None] = mapped_column(String(64))
    acked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    red_days: Mapped[int] = mapped_column(Integer, default=0)
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL")
    )
    version: Mapped[int] = mapped_column(Integer, default=0)


class AlertEvent(Base):
    """History of alert transitions and actions: fired, grouped, held, acked, snoozed, resolved."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rule: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128))
    event: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_alert_events_at", "at"),
        Index("ix_alert_events_rule", "rule", "subject"),
    )


class RhythmOverride(Base):
    """Switchboard changes made in Slack; they beat the config file for that rhythm."""

    __tablename__ = "rhythm_overrides"

    rhythm: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool | None] = mapped_column(Boolean)
    schedule: Mapped[str | None] = mapped_column(String(64))
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class RhythmTeamOverride(Base):
    """A rhythm switched off for one team from Slack (`/drumbeat rhythm off NAME TEAM`): the
    engine leaves that team's people and its team posts out (`rhythms.rhythm_teams`). A row
    is the exception; switching the team back on deletes it."""

    __tablename__ = "rhythm_team_overrides"

    rhythm: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Who changed what and when (switchboard, admin commands)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Interaction(Base):
    """One use of Drumbeat by a person (button, modal, command, App Home): usage per rhythm."""

    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    slack_user_id: Mapped[str | None] = mapped_column(String(32))
    rhythm: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))  # command | action | view | home
    name: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_interactions_rhythm_at", "rhythm", "at"),)
