"""Initial schema: org directory, CRM records, sync, rollups, rhythm runs, outbox, replies, alerts.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 15:32:05.699149
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import metrics.store

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("at", metrics.store.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
    )
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.create_index("ix_alert_events_at", ["at"], unique=False)
        batch_op.create_index("ix_alert_events_rule", ["rule", "subject"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", metrics.store.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_table(
        "interactions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", metrics.store.UTCDateTime(timezone=True), nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=True),
        sa.Column("rhythm", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interactions")),
    )
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.create_index("ix_interactions_rhythm_at", ["rhythm", "at"], unique=False)

    op.create_table(
        "rhythm_overrides",
        sa.Column("rhythm", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=True),
        sa.Column("schedule", sa.String(length=64), nullable=True),
        sa.Column("changed_by", sa.String(length=64), nullable=False),
        sa.Column("changed_at", metrics.store.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("rhythm", name=op.f("pk_rhythm_overrides")),
    )
    op.create_table(
        "rhythm_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rhythm", sa.String(length=64), nullable=False),
        sa.Column("period_key", sa.String(length=128), nullable=False),
        sa.Column("scheduled_for", metrics.store.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("started_at", metrics.store.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", metrics.store.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rhythm_runs")),
        sa.UniqueConstraint("rhythm", "period_key", name=op.f("uq_rhythm_runs_rhythm_period_key")),
    )
    with op.batch_alter_table("rhythm_runs", schema=None) as batch_op:
        batch_op.create_index("ix_rhythm_runs_status", ["status", "scheduled_for"], unique=False)

    op.create_table(
        "sync_cursors",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("object", sa.String(length=32), nullable=False),
        sa.Column("cursor_modified_at", metrics.store.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cursor_external_id", sa.String(length=64), nullable=True),
        sa.Column("state", sa.JSON(), nullable=True),
        sa.Column("last_success_at", metrics.store.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", metrics.store.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("source", "object", name=op.f("pk_sync_cursors")),
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("started_at", metrics.store.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", metrics.store.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.create_index("ix_sync_runs_source_started", ["source", "started_at"], unique=False)

    op.create_table(
        "teams",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("function", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_teams")),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("rhythm", sa.String(length=64), nullable=False),
        sa.Column("period_key", sa.String(length=128), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("part", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column(
            "thread_of_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", metrics.store.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", metrics.store.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", metrics.store.UTCDateTime(timezone=True), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", metrics.store.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["rhythm_runs.id"],
            name=op.f("fk_deliveries_run_id_rhythm_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["thread_of_id"],
            ["deliveries.id"],
            name=op.f("fk_deliveries_thread_of_id_deliveries"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint(
            "rhythm",
            "period_key",
            "recipient",
            "part",
            name=op.f("uq_deliveries_rhythm_period_key_recipient_part"),
        ),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_due", ["status", "not_before"], unique=False)
        batch_op.create_index("ix_deliveries_run", ["run_id"], unique=False)

    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("team_key", sa.String(length=64), nullable=True),
        sa.Column("manager_id", sa.Integer(), nullable=True),
        sa.Column("slack_user_id", sa.String(length=32), nullable=True),
        sa.Column("slack_timezone", sa.String(length=64), nullable=True),
        sa.Column("timezone_override", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("out_of_office_from", sa.Date(), nullable=True),
        sa.Column("out_of_office_until", sa.Date(), nullable=True),
        sa.Column("updated_at", metrics.store.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["manager_id"],
            ["people.id"],
            name=op.f("fk_people_manager_id_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_key"], ["teams.key"], name=op.f("fk_people_team_key_teams"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
        sa.UniqueConstraint("email", name=op.f("uq_people_email")),
        sa.UniqueConstraint("slack_user_id", name=op.f("uq_people_slack_user_id")),
    )
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.create_index("ix_people_team_key", ["team_key"], unique=False)

    op.create_table(
        "alert_states",
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("since", metrics.store.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("last_evaluated_at", metrics.store.UTCDateTime(timezone=True), nullable=True),
        sa.Column("fired_at", metrics.store.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", metrics.store.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cooldown_until", metrics.store.UTCDateTime(timezone=True), nullable=True),
        sa.Column("snoozed_until", metrics.store.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acked_by", sa.String(length=64), nullable=True),
        sa.Column("acked_at", metrics.store.UTCDateTime(timezone=True), nullable=True),
        sa.Column("red_days", sa.Integer(), nullable=False),
        sa.Column(
            "delivery_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_alert_states_delivery_id_deliveries"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("rule", "subject", name=op.f("pk_alert_states")),
    )
    op.create_table(
        "crm_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("modified_at", metrics.store.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_crm_users_person_id_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_users")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_crm_users_source_external_id")),
    )
    with op.batch_alter_table("crm_users", schema=None) as batch_op:
        batch_op.create_index("ix_crm_users_person", ["person_id"], unique=False)

    op.create_table(
        "metric_daily",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("team_key", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_metric_daily_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", "metric", "day", name=op.f("pk_metric_daily")),
    )
    with op.batch_alter_table("metric_daily", schema=None) as batch_op:
        batch_op.create_index("ix_metric_daily_team", ["team_key", "metric", "day"], unique=False)

    op.create_table(
        "replies",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rhythm", sa.String(length=64), nullable=False),
        sa.Column("period_key", sa.String(length=128), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("submitted_at", metrics.store.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", metrics.store.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_replies_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replies")),
        sa.UniqueConstraint(
            "rhythm", "period_key", "person_id", name=op.f("uq_replies_rhythm_period_key_person_id")
        ),
    )
    op.create_table(
        "team_memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("team_key", sa.String(length=64), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_team_memberships_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_key"],
            ["teams.key"],
            name=op.f("fk_team_memberships_team_key_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_memberships")),
        sa.UniqueConstraint(
            "person_id", "valid_from", name=op.f("uq_team_memberships_person_id_valid_from")
        ),
    )
    with op.batch_alter_table("team_memberships", schema=None) as batch_op:
        batch_op.create_index("ix_team_memberships_team", ["team_key", "valid_from"], unique=False)

    op.create_table(
        "activities",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("occurred_at", metrics.store.UTCDateTime(timezone=True), nullable=False),
        sa.Column("booked_at", metrics.store.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("direction", sa.String(length=16), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("deal_external_id", sa.String(length=64), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("modified_at", metrics.store.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["crm_users.id"],
            name=op.f("fk_activities_owner_id_crm_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_activities_source_external_id")),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index("ix_activities_occurred", ["occurred_at"], unique=False)
        batch_op.create_index(
            "ix_activities_owner_occurred", ["owner_id", "occurred_at"], unique=False
        )
        batch_op.create_index("ix_activities_owner_booked", ["owner_id", "booked_at"], unique=False)
        batch_op.create_index(
            "ix_activities_source_modified", ["source", "modified_at"], unique=False
        )

    op.create_table(
        "deals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("pipeline", sa.String(length=64), nullable=True),
        sa.Column("stage", sa.String(length=64), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("deal_type", sa.String(length=32), nullable=True),
        sa.Column("lead_source", sa.String(length=64), nullable=True),
        sa.Column("created_at", metrics.store.UTCDateTime(timezone=True), nullable=False),
        sa.Column("close_date", sa.Date(), nullable=True),
        sa.Column("closed_at", metrics.store.UTCDateTime(timezone=True), nullable=True),
        sa.Column("is_closed", sa.Boolean(), nullable=False),
        sa.Column("is_won", sa.Boolean(), nullable=False),
        sa.Column("modified_at", metrics.store.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["crm_users.id"],
            name=op.f("fk_deals_owner_id_crm_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deals")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_deals_source_external_id")),
    )
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.create_index("ix_deals_owner_closed", ["owner_id", "closed_at"], unique=False)
        batch_op.create_index("ix_deals_owner_created", ["owner_id", "created_at"], unique=False)
        batch_op.create_index("ix_deals_source_modified", ["source", "modified_at"], unique=False)

    op.create_table(
        "reply_revisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reply_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("saved_at", metrics.store.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["reply_id"],
            ["replies.id"],
            name=op.f("fk_reply_revisions_reply_id_replies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply_revisions")),
    )
    with op.batch_alter_table("reply_revisions", schema=None) as batch_op:
        batch_op.create_index("ix_reply_revisions_reply", ["reply_id", "saved_at"], unique=False)

    op.create_table(
        "rollup_dirty",
        sa.Column("crm_user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["crm_user_id"],
            ["crm_users.id"],
            name=op.f("fk_rollup_dirty_crm_user_id_crm_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("crm_user_id", "day", name=op.f("pk_rollup_dirty")),
    )
    op.create_table(
        "deal_stage_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("deal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("entered_at", metrics.store.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deal_id"],
            ["deals.id"],
            name=op.f("fk_deal_stage_history_deal_id_deals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal_stage_history")),
        sa.UniqueConstraint(
            "deal_id",
            "stage",
            "entered_at",
            name=op.f("uq_deal_stage_history_deal_id_stage_entered_at"),
        ),
    )


def downgrade() -> None:
    op.drop_table("deal_stage_history")
    op.drop_table("rollup_dirty")
    with op.batch_alter_table("reply_revisions", schema=None) as batch_op:
        batch_op.drop_index("ix_reply_revisions_reply")

    op.drop_table("reply_revisions")
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_index("ix_deals_source_modified")
        batch_op.drop_index("ix_deals_owner_created")
        batch_op.drop_index("ix_deals_owner_closed")

    op.drop_table("deals")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_source_modified")
        batch_op.drop_index("ix_activities_owner_booked")
        batch_op.drop_index("ix_activities_owner_occurred")
        batch_op.drop_index("ix_activities_occurred")

    op.drop_table("activities")
    with op.batch_alter_table("team_memberships", schema=None) as batch_op:
        batch_op.drop_index("ix_team_memberships_team")

    op.drop_table("team_memberships")
    op.drop_table("replies")
    with op.batch_alter_table("metric_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_metric_daily_team")

    op.drop_table("metric_daily")
    with op.batch_alter_table("crm_users", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_users_person")

    op.drop_table("crm_users")
    op.drop_table("alert_states")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index("ix_people_team_key")

    op.drop_table("people")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_run")
        batch_op.drop_index("ix_deliveries_due")

    op.drop_table("deliveries")
    op.drop_table("teams")
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_runs_source_started")

    op.drop_table("sync_runs")
    op.drop_table("sync_cursors")
    with op.batch_alter_table("rhythm_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_rhythm_runs_status")

    op.drop_table("rhythm_runs")
    op.drop_table("rhythm_overrides")
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.drop_index("ix_interactions_rhythm_at")

    op.drop_table("interactions")
    op.drop_table("audit_log")
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_events_rule")
        batch_op.drop_index("ix_alert_events_at")

    op.drop_table("alert_events")
