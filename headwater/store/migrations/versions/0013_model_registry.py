"""the model registry: models, versions, aliases and their history

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _namespace() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("namespace", sa.String(length=128), server_default="default", nullable=False)


def upgrade() -> None:
    json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    op.create_table(
        "registered_models",
        sa.Column("id", sa.String(length=32), nullable=False),
        _namespace(),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("tags", json, nullable=True),
        sa.Column("last_version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registered_models")),
        sa.UniqueConstraint("namespace", "name", name=op.f("uq_registered_models_namespace_name")),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.String(length=32), nullable=False),
        _namespace(),
        sa.Column("model_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("artifact_id", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("task_run_id", sa.String(length=32), nullable=True),
        sa.Column("flavor", sa.String(length=64), nullable=True),
        sa.Column("signature", json, nullable=True),
        sa.Column("tags", json, nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("metrics", json, nullable=True),
        sa.Column("created_by", sa.String(length=256), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name=op.f("fk_model_versions_model_id_registered_models"),
        ),
        sa.ForeignKeyConstraint(
            ["artifact_id"], ["artifacts.id"], name=op.f("fk_model_versions_artifact_id_artifacts")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_model_versions_run_id_runs")
        ),
        sa.ForeignKeyConstraint(
            ["task_run_id"],
            ["task_runs.id"],
            name=op.f("fk_model_versions_task_run_id_task_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("model_id", "version", name=op.f("uq_model_versions_model_id_version")),
    )
    op.create_index(
        op.f("ix_model_versions_artifact_id"), "model_versions", ["artifact_id"], unique=False
    )
    op.create_table(
        "model_aliases",
        sa.Column("model_id", sa.String(length=32), nullable=False),
        sa.Column("alias", sa.String(length=64), nullable=False),
        _namespace(),
        sa.Column("version_id", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name=op.f("fk_model_aliases_model_id_registered_models"),
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_model_aliases_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("model_id", "alias", name=op.f("pk_model_aliases")),
    )
    op.create_table(
        "model_alias_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _namespace(),
        sa.Column("model_id", sa.String(length=32), nullable=False),
        sa.Column("alias", sa.String(length=64), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=True),
        sa.Column("to_version", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=256), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name=op.f("fk_model_alias_history_model_id_registered_models"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_alias_history")),
    )
    op.create_index(
        op.f("ix_model_alias_history_model_id_id"),
        "model_alias_history",
        ["model_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_model_alias_history_model_id_id"), table_name="model_alias_history")
    op.drop_table("model_alias_history")
    op.drop_table("model_aliases")
    op.drop_index(op.f("ix_model_versions_artifact_id"), table_name="model_versions")
    op.drop_table("model_versions")
    op.drop_table("registered_models")
