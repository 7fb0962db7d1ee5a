"""an index that reads the newest runs in order

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_runs_namespace_created_at_id"),
        "runs",
        ["namespace", "created_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_runs_namespace_created_at_id"), table_name="runs")
