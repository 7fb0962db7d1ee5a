"""namespaces, and the role each user holds in each

Revision ID: 0016
Revises: 0015
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# Tables that already carry a namespace: each namespace they name becomes one.
_HELD = ("pipelines", "runs", "artifacts", "schedules", "pools", "uri_roots")


def upgrade() -> None:
    op.create_table(
        "namespaces",
        sa.Column("namespace", sa.String(128), server_default="default", nullable=False),
        sa.Column("description", sa.String(1024), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("namespace", name=op.f("pk_namespaces")),
    )
    op.create_table(
        "memberships",
        sa.Column("namespace", sa.String(128), server_default="default", nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_memberships_user_id_users")
        ),
        sa.PrimaryKeyConstraint("namespace", "user_id", name=op.f("pk_memberships")),
    )
    op.create_index(op.f("ix_memberships_user_id"), "memberships", ["user_id"])
    conn = op.get_bind()
    stamp = datetime.now(UTC)
    if conn.dialect.name == "sqlite":
        stamp = stamp.replace(tzinfo=None)
    names = {"default"}
    for table in _HELD:
        names.update(conn.execute(sa.text(f"SELECT DISTINCT namespace FROM {table}")).scalars())
    namespaces = sa.table(
        "namespaces",
        sa.column("namespace", sa.String),
        sa.column("created_at", sa.DateTime),
    )
    op.bulk_insert(namespaces, [{"namespace": n, "created_at": stamp} for n in sorted(names)])
    # Users were 'admin' (could do everything) or 'user' (could do everything but was not
    # an admin): admins own the server; users become editors where they lived.
    users = conn.execute(sa.text("SELECT id, namespace, role FROM users")).all()
    memberships = sa.table(
        "memberships",
        sa.column("namespace", sa.String),
        sa.column("user_id", sa.String),
        sa.column("role", sa.String),
        sa.column("created_at", sa.DateTime),
    )
    rows = [
        {"namespace": ns, "user_id": uid, "role": "editor", "created_at": stamp}
        for uid, ns, role in users
        if role != "admin"
    ]
    if rows:
        op.bulk_insert(memberships, rows)
    conn.execute(sa.text("UPDATE users SET role = 'owner' WHERE role = 'admin'"))
    conn.execute(sa.text("UPDATE users SET role = 'member' WHERE role <> 'owner'"))
    # Users and tokens are server-wide: they live in the default namespace.
    conn.execute(sa.text("UPDATE users SET namespace = 'default'"))
    conn.execute(sa.text("UPDATE api_tokens SET namespace = 'default'"))


def downgrade() -> None:
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE users SET role = 'admin' WHERE role = 'owner'"))
    conn.execute(sa.text("UPDATE users SET role = 'user' WHERE role = 'member'"))
    op.drop_index(op.f("ix_memberships_user_id"), table_name="memberships")
    op.drop_table("memberships")
    op.drop_table("namespaces")
