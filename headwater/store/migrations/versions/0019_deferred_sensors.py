"""sensors wait deferred: when each attempt's wait began, when it is next checked, how
many checks it took

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_runs") as batch:
        batch.add_column(sa.Column("deferred_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("wake_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("pokes", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("task_runs") as batch:
        batch.drop_column("pokes")
        batch.drop_column("wake_at")
        batch.drop_column("deferred_at")
