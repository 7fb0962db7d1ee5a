"""secrets (encrypted), connections and variables that tasks read

Revision ID: 0017
Revises: 0016
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _common() -> list[Any]:
    return [
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=True),
        sa.Column("updated_by", sa.String(length=256), nullable=True),
    ]


def _key(table: str) -> list[Any]:
    return [
        sa.Column("namespace", sa.String(length=128), server_default="default", nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("namespace", "name", name=op.f(f"pk_{table}")),
    ]


def upgrade() -> None:
    json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    op.create_table(
        "secrets", *_key("secrets"), sa.Column("value", sa.Text(), nullable=False), *_common()
    )
    op.create_table(
        "connections",
        *_key("connections"),
        sa.Column("conn_type", sa.String(length=32), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("login", sa.String(length=255), nullable=True),
        sa.Column("password", sa.Text(), nullable=True),
        sa.Column("schema_name", sa.String(length=255), nullable=True),
        sa.Column("extras", json, nullable=False),
        *_common(),
    )
    op.create_table(
        "variables", *_key("variables"), sa.Column("value", sa.Text(), nullable=False), *_common()
    )


def downgrade() -> None:
    op.drop_table("variables")
    op.drop_table("connections")
    op.drop_table("secrets")
