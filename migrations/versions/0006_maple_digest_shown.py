"""MAPLE: `maple_digest_shown`, the version of each update a week's digest showed.

The late-update path used to decide by state (is the digest's run done?) whether a
submission still had to be posted in the digest's thread, so an update committed while the
digest was being built could miss both. The digest now records, in the transaction that
enqueues it, which version (latest submitted `reply_revisions` row) of each update it shows;
every submitted version without a row is posted in its thread (`rhythms/maple_late.py`).

Backfill: every submitted reply of a week whose digest run is done is recorded as shown
("backfill"), at its latest submitted revision, so nothing posted before this migration is
posted again. Run it with the old version stopped (the Docker image migrates before it
starts): a digest or late update an old replica writes after it has no row and would be
posted again in the thread. One INSERT … SELECT over the replies; a new table rewrites
nothing.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import metrics.store

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

BACKFILL = sa.text(
    """
    INSERT INTO maple_digest_shown (reply_id, revision_id, shown_in, shown_at)
    SELECT r.id,
           COALESCE((SELECT MAX(v.id) FROM reply_revisions v
                     WHERE v.reply_id = r.id AND v.status = 'submitted'), 0),
           'backfill',
           COALESCE(run.finished_at, run.scheduled_for)
    FROM replies r
    JOIN rhythm_runs run
      ON run.rhythm = r.rhythm || '_digest'
     AND run.period_key = r.period_key
     AND run.status = 'done'
    WHERE r.status = 'submitted'
    """
)


def upgrade() -> None:
    op.create_table(
        "maple_digest_shown",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("reply_id", BIG_ID, nullable=False),
        sa.Column("revision_id", BIG_ID, nullable=False),
        sa.Column("shown_in", sa.String(length=16), nullable=False),
        sa.Column("shown_at", metrics.store.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["reply_id"],
            ["replies.id"],
            name=op.f("fk_maple_digest_shown_reply_id_replies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maple_digest_shown")),
        sa.UniqueConstraint(
            "reply_id", "revision_id", name=op.f("uq_maple_digest_shown_reply_id_revision_id")
        ),
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_table("maple_digest_shown")
