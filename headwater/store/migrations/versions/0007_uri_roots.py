"""URI roots per namespace, and which runs are confined to them

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "uri_roots",
        sa.Column("namespace", sa.String(length=128), server_default="default", nullable=False),
        sa.Column("root", sa.String(length=1024), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("namespace", "root", name=op.f("pk_uri_roots")),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("confined", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    # Runs a server or scheduler created before this revision were never checked: the
    # engine that drives them now keeps them to the roots. Only 'headwater run' (and the
    # other commands a user runs on their own machine) records 'manual' runs.
    op.execute(
        sa.text("UPDATE runs SET confined = :yes WHERE trigger <> 'manual'").bindparams(yes=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("confined")
    op.drop_table("uri_roots")
