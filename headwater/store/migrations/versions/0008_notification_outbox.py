"""the notification outbox

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("namespace", sa.String(length=128), server_default="default", nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("pipeline", sa.String(length=128), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("task", sa.Text(), nullable=True),
        sa.Column("target", json, nullable=False),
        sa.Column("payload", json, nullable=False),
        sa.Column("source_root", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_notifications_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(
        op.f("ix_notifications_status_next_attempt_at"),
        "notifications",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_index(op.f("ix_notifications_run_id"), "notifications", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_notifications_run_id"), table_name="notifications")
    op.drop_index(op.f("ix_notifications_status_next_attempt_at"), table_name="notifications")
    op.drop_table("notifications")
