"""deployments: what a server answers by name, their revisions and serving history

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _namespace() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("namespace", sa.String(length=128), server_default="default", nullable=False)


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(length=32), nullable=False),
        _namespace(),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=256), nullable=False),
        sa.Column("canary", sa.String(length=256), nullable=True),
        sa.Column("canary_percent", sa.Float(), server_default="0", nullable=False),
        sa.Column("shadow", sa.String(length=256), nullable=True),
        sa.Column("revision", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
        sa.UniqueConstraint("namespace", "name", name=op.f("uq_deployments_namespace_name")),
    )
    op.create_table(
        "deployment_revisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _namespace(),
        sa.Column("deployment_id", sa.String(length=32), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=256), nullable=False),
        sa.Column("canary", sa.String(length=256), nullable=True),
        sa.Column("canary_percent", sa.Float(), server_default="0", nullable=False),
        sa.Column("shadow", sa.String(length=256), nullable=True),
        sa.Column("actor", sa.String(length=256), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_deployment_revisions_deployment_id_deployments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_revisions")),
    )
    op.create_index(
        op.f("ix_deployment_revisions_deployment_id_id"),
        "deployment_revisions",
        ["deployment_id", "id"],
        unique=False,
    )
    op.create_table(
        "deployment_serving",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _namespace(),
        sa.Column("deployment_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("version_id", sa.String(length=32), nullable=False),
        sa.Column("server", sa.String(length=256), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_deployment_serving_deployment_id_deployments"),
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_deployment_serving_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_serving")),
    )
    op.create_index(
        op.f("ix_deployment_serving_deployment_id_id"),
        "deployment_serving",
        ["deployment_id", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_deployment_serving_version_id"), "deployment_serving", ["version_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_deployment_serving_version_id"), table_name="deployment_serving")
    op.drop_index(op.f("ix_deployment_serving_deployment_id_id"), table_name="deployment_serving")
    op.drop_table("deployment_serving")
    op.drop_index(
        op.f("ix_deployment_revisions_deployment_id_id"), table_name="deployment_revisions"
    )
    op.drop_table("deployment_revisions")
    op.drop_table("deployments")
