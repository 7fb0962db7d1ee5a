"""runs belong to a named experiment

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("experiment", sa.String(128), nullable=True))
    # A run made before experiments belongs to its pipeline's, as a new run does by default.
    op.execute(
        "UPDATE runs SET experiment = "
        "(SELECT pipelines.name FROM pipelines WHERE pipelines.id = runs.pipeline_id)"
    )
    with op.batch_alter_table("runs") as batch:
        batch.alter_column("experiment", existing_type=sa.String(128), nullable=False)
        batch.create_index(
            "ix_runs_namespace_experiment_created_at", ["namespace", "experiment", "created_at"]
        )


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_namespace_experiment_created_at")
        batch.drop_column("experiment")
