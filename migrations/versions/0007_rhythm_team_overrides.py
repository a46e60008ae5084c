"""Switchboard: `rhythm_team_overrides`, a rhythm switched off for one team.

`/drumbeat rhythm off NAME TEAM` used to ignore the team and switch the rhythm off for
everyone. A row here now says the rhythm is off for that team only: the engine leaves the
team's people (and its team posts) out of every run (`rhythms/rhythm_teams.py`). A new,
empty table: nothing to backfill, nothing rewritten.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import metrics.store

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rhythm_team_overrides",
        sa.Column("rhythm", sa.String(length=64), nullable=False),
        sa.Column("team_key", sa.String(length=64), nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=False),
        sa.Column("changed_at", metrics.store.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("rhythm", "team_key", name=op.f("pk_rhythm_team_overrides")),
    )


def downgrade() -> None:
    op.drop_table("rhythm_team_overrides")
