"""The team index of metric_daily carries the person and the value: team sums, and one
day's values for everyone, read the index alone.

Team lookups (scoreboards, control tower, alert baselines) sum `value` over
(team_key, metric, day) ranges; without `value` in the index every entry cost a lookup of
its table row (a 14-day baseline of a 3,334-rep team: 54 ms, 6 ms index-only). With
`person_id` too, a metric's values for thousands of people on one day are a few index
ranges (one per team) instead of a primary-key seek and a row lookup per person.
Rebuilding the index takes a few seconds per million rollup rows (~5 s for 4.5M on SQLite),
with writes to metric_daily blocked meanwhile.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 23:58:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OLD = ["team_key", "metric", "day"]


def upgrade() -> None:
    with op.batch_alter_table("metric_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_metric_daily_team")
        batch_op.create_index("ix_metric_daily_team", [*OLD, "person_id", "value"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("metric_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_metric_daily_team")
        batch_op.create_index("ix_metric_daily_team", OLD, unique=False)
