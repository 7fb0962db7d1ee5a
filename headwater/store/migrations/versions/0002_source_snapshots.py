"""source snapshots of pipeline versions

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_files",
        sa.Column("namespace", sa.String(length=128), server_default="default", nullable=False),
        sa.Column("digest", sa.String(length=80), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("namespace", "digest", name=op.f("pk_source_files")),
    )
    with op.batch_alter_table("pipeline_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("spec_digest", sa.String(length=80), nullable=True))
        batch_op.add_column(
            sa.Column(
                "source_manifest",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("pipeline_versions", schema=None) as batch_op:
        batch_op.drop_column("source_manifest")
        batch_op.drop_column("spec_digest")
    op.drop_table("source_files")
