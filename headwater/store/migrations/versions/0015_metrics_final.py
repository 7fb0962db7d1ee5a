"""each attempt's final point of a metric is marked, for comparing runs

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("metrics") as batch:
        batch.add_column(sa.Column("final", sa.Boolean, nullable=True))
    # The points logged before: the last of each key of each attempt is its final value.
    op.execute(
        "UPDATE metrics SET final = TRUE WHERE id IN "
        "(SELECT MAX(id) FROM metrics GROUP BY task_run_id, key)"
    )
    op.create_index(
        "ix_metrics_run_id_final",
        "metrics",
        ["run_id"],
        sqlite_where=sa.text("final"),
        postgresql_where=sa.text("final"),
    )


def downgrade() -> None:
    op.drop_index("ix_metrics_run_id_final", table_name="metrics")
    with op.batch_alter_table("metrics") as batch:
        batch.drop_column("final")
