"""asset_events: external events (no run), with their source and metadata

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    with op.batch_alter_table("asset_events") as batch:
        batch.add_column(sa.Column("source", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("extra", json, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("asset_events") as batch:
        batch.drop_column("extra")
        batch.drop_column("source")
