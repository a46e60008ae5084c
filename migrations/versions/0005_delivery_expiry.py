"""Deliveries expire: `deliveries.expires_at`, after which a claim records the row `expired`
instead of sending it.

Rows left unsent by downtime or a long Slack outage used to go out whenever the sender got
to them, days late and at night. Each new row now carries the time after which it is no
longer worth sending (a rhythm run: its scheduled time + the rhythm's grace window; other
kinds: see docs/delivery.md). Rows written before this migration keep ``NULL``: they never
expire (the sender still stops retrying a transient failure after its fallback budget).
Adding a nullable column rewrites nothing on PostgreSQL; SQLite's batch mode copies the
table once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import metrics.store

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expires_at", metrics.store.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
