"""tuning studies: their settings, their Optuna journal, and their trials as runs

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    when = sa.DateTime(timezone=True)
    op.create_table(
        "studies",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("namespace", sa.String(length=128), server_default="default", nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("pipeline", sa.String(length=128), nullable=False),
        sa.Column("objective", sa.String(length=300), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("sampler", sa.String(length=16), nullable=False),
        sa.Column("pruner", sa.String(length=16), nullable=False),
        sa.Column("space", json, nullable=False),
        sa.Column("settings", json, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_studies")),
        sa.UniqueConstraint("namespace", "name", name=op.f("uq_studies_namespace_name")),
    )
    op.create_table(
        "study_journal",
        sa.Column("study_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("namespace", sa.String(length=128), server_default="default", nullable=False),
        sa.Column("entry", json, nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_study_journal_study_id_studies")
        ),
        sa.PrimaryKeyConstraint("study_id", "seq", name=op.f("pk_study_journal")),
    )
    op.create_table(
        "study_trials",
        sa.Column("study_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("namespace", sa.String(length=128), server_default="default", nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("params", json, nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("created_at", when, nullable=False),
        sa.Column("finished_at", when, nullable=True),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_study_trials_study_id_studies")
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_study_trials_run_id_runs")),
        sa.PrimaryKeyConstraint("study_id", "number", name=op.f("pk_study_trials")),
    )
    op.create_index(op.f("ix_study_trials_run_id"), "study_trials", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_study_trials_run_id"), table_name="study_trials")
    op.drop_table("study_trials")
    op.drop_table("study_journal")
    op.drop_table("studies")
