"""Tables for the numbers: the org directory, CRM records, sync bookkeeping and rollups.

Times are aware UTC (`UTCDateTime`); days in `metric_daily` are calendar days in the
person's own time zone. Money is stored as the CRM gave it (amount + currency) and
converted to the reporting currency when rolled up.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from metrics.store import Base, UTCDateTime

# SQLite only auto-increments INTEGER PRIMARY KEY; BigInteger elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Team(Base):
    __tablename__ = "teams"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    function: Mapped[str] = mapped_column(String(32), default="other")
    channel: Mapped[str | None] = mapped_column(String(100))


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    team_key: Mapped[str | None] = mapped_column(ForeignKey("teams.key", ondelete="SET NULL"))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    slack_user_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    slack_timezone: Mapped[str | None] = mapped_column(String(64))
    timezone_override: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    out_of_office_from: Mapped[dt.date | None] = mapped_column(Date)
    out_of_office_until: Mapped[dt.date | None] = mapped_column(Date)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_people_team_key", "team_key"),)


class TeamMembership(Base):
    """Which team a person was on over time, so a rep who moves keeps history where it was."""

    __tablename__ = "team_memberships"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    team_key: Mapped[str] = mapped_column(ForeignKey("teams.key", ondelete="CASCADE"))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)  # exclusive; None = current

    __table_args__ = (
        UniqueConstraint("person_id", "valid_from"),
        Index("ix_team_memberships_team", "team_key", "valid_from"),
    )


class CrmUser(Base):
    """A CRM owner/user, mapped to a person by config or email (or not at all yet)."""

    __tablename__ = "crm_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    modified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_crm_users_person", "person_id"),
    )


class Deal(Base):
    __tablename__ = "deals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(300))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("crm_users.id", ondelete="SET NULL"))
    pipeline: Mapped[str | None] = mapped_column(String(64))
    stage: Mapped[str | None] = mapped_column(String(64))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    deal_type: Mapped[str | None] = mapped_column(String(32))
    lead_source: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    close_date: Mapped[dt.date | None] = mapped_column(Date)  # expected or actual
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    is_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    is_won: Mapped[bool] = mapped_column(Boolean, default=False)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_deals_owner_created", "owner_id", "created_at"),
        Index("ix_deals_owner_closed", "owner_id", "closed_at"),
        Index("ix_deals_source_modified", "source", "modified_at"),
    )


class DealStageChange(Base):
    __tablename__ = "deal_stage_history"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(64))
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("deal_id", "stage", "entered_at"),)


class Activity(Base):
    """A call, email, meeting or task. `occurred_at` places it on a day; for meetings
    `booked_at` is when it was scheduled (meetings booked) and `occurred_at` its start."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # call | email | meeting | task
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("crm_users.id", ondelete="SET NULL"))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    booked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(32))
    direction: Mapped[str | None] = mapped_column(String(16))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    deal_external_id: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(Text)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_activities_owner_occurred", "owner_id", "occurred_at"),
        # Meetings booked (rollups by booked_at): only the records that have one, with the
        # fields the built-in rollup reads, so its scans never visit the table (migration 0004).
        Index(
            "ix_activities_booked",
            "owner_id",
            "booked_at",
            "kind",
            "deleted",
            sqlite_where=text("booked_at IS NOT NULL"),
            postgresql_where=text("booked_at IS NOT NULL"),
        ),
        Index("ix_activities_occurred", "occurred_at"),
        Index("ix_activities_source_modified", "source", "modified_at"),
    )


class SyncCursor(Base):
    """How far an incremental sync of one object from one source has got.

    The cursor is (modified timestamp, external id) of the last row durably stored, so a
    resumed sync re-reads from there; upserts make the overlap harmless.
    """

    __tablename__ = "sync_cursors"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    object: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor_modified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cursor_external_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # connector-specific resume data
    last_success_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SyncRun(Base):
    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    full: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running|ok|failed
    stats: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_sync_runs_source_started", "source", "started_at"),)


class RollupDirty(Base):
    """(CRM owner, UTC day) pairs whose rollups must be recomputed after a sync.

    The sync engine marks the UTC calendar day of every timestamp it changed (old and new
    values); the refresher expands a UTC day to the local days it overlaps and clears the rows.
    """

    __tablename__ = "rollup_dirty"

    crm_user_id: Mapped[int] = mapped_column(
        ForeignKey("crm_users.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)


class MetricDaily(Base):
    """One value per (person, metric, local day); teams and the org are sums of these."""

    __tablename__ = "metric_daily"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    team_key: Mapped[str | None] = mapped_column(String(64))  # team on that day

    # person and value last: team sums over (team, metric, day) ranges, and a day's values
    # for everyone (`metrics.group_values.PersonSums`), read the index alone. On SQLite the
    # rows live in their primary key's B-tree (WITHOUT ROWID, migration 0003): a person's
    # lookup reads it alone, and a write updates one tree fewer.
    __table_args__ = (
        Index("ix_metric_daily_team", "team_key", "metric", "day", "person_id", "value"),
        {"sqlite_with_rowid": False},
    )
