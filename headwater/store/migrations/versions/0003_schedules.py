"""schedules, and the data interval of scheduled runs

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("pipeline_id", sa.String(length=32), nullable=False),
        sa.Column("namespace", sa.String(length=128), server_default="default", nullable=False),
        sa.Column("version_id", sa.String(length=32), nullable=False),
        sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("last_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pipeline_id"], ["pipelines.id"], name=op.f("fk_schedules_pipeline_id_pipelines")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["pipeline_versions.id"],
            name=op.f("fk_schedules_version_id_pipeline_versions"),
        ),
        sa.PrimaryKeyConstraint("pipeline_id", name=op.f("pk_schedules")),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("data_interval_start", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("data_interval_end", sa.DateTime(timezone=True)))
        batch_op.create_unique_constraint(
            batch_op.f("uq_runs_pipeline_id_trigger_data_interval_start"),
            ["pipeline_id", "trigger", "data_interval_start"],
        )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_runs_pipeline_id_trigger_data_interval_start"), type_="unique"
        )
        batch_op.drop_column("data_interval_end")
        batch_op.drop_column("data_interval_start")
    op.drop_table("schedules")
