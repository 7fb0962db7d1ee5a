"""users and API tokens, pools, assets and asset events, run ownership, task slots

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _namespace() -> sa.Column[str]:
    return sa.Column("namespace", sa.String(length=128), server_default="default", nullable=False)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=32), nullable=False),
        _namespace(),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("namespace", "name", name=op.f("uq_users_namespace_name")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=32), nullable=False),
        _namespace(),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "pools",
        _namespace(),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("namespace", "name", name=op.f("pk_pools")),
    )
    op.create_table(
        "assets",
        sa.Column("id", sa.String(length=32), nullable=False),
        _namespace(),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
        sa.UniqueConstraint("namespace", "name", name=op.f("uq_assets_namespace_name")),
    )
    op.create_table(
        "asset_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _namespace(),
        sa.Column("asset_id", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("task_run_id", sa.String(length=32), nullable=True),
        sa.Column("artifact_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_asset_events_asset_id_assets")
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_asset_events_run_id_runs")),
        sa.ForeignKeyConstraint(
            ["task_run_id"], ["task_runs.id"], name=op.f("fk_asset_events_task_run_id_task_runs")
        ),
        sa.ForeignKeyConstraint(
            ["artifact_id"], ["artifacts.id"], name=op.f("fk_asset_events_artifact_id_artifacts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_events")),
    )
    op.create_index(
        op.f("ix_asset_events_asset_id_id"), "asset_events", ["asset_id", "id"], unique=False
    )
    op.create_table(
        "asset_triggers",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        _namespace(),
        sa.ForeignKeyConstraint(
            ["event_id"], ["asset_events.id"], name=op.f("fk_asset_triggers_event_id_asset_events")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_asset_triggers_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("event_id", "run_id", name=op.f("pk_asset_triggers")),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("engine_id", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("deadline_missed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("task_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pool", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("pool_slots", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_task_runs_status"), ["status"], unique=False)
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("asset_cursor", sa.Integer(), nullable=True))
    # Tasks that name no pool take their slot from the default pool (unlimited until set).
    op.execute(
        "INSERT INTO pools (namespace, name, slots, description, created_at, updated_at) "
        "VALUES ('default', 'default_pool', NULL, 'tasks that name no pool', "
        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )


def downgrade() -> None:
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_column("asset_cursor")
    with op.batch_alter_table("task_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_runs_status"))
        batch_op.drop_column("cleared_at")
        batch_op.drop_column("priority")
        batch_op.drop_column("pool_slots")
        batch_op.drop_column("pool")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("cancel_requested_at")
        batch_op.drop_column("deadline_missed_at")
        batch_op.drop_column("engine_id")
    op.drop_table("asset_triggers")
    op.drop_index(op.f("ix_asset_events_asset_id_id"), table_name="asset_events")
    op.drop_table("asset_events")
    op.drop_table("assets")
    op.drop_table("pools")
    op.drop_table("api_tokens")
    op.drop_table("users")
