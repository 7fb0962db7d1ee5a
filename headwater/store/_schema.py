"""The metadata store's tables (SQLAlchemy Core). Changes go through Alembic migrations.

Every row a user owns carries ``namespace`` (default ``"default"``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def as_utc(value: datetime | str) -> datetime:
    """A stored time as an aware UTC datetime: what a driver gives for a column read
    without its type's processing (text on SQLite, a datetime on PostgreSQL)."""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


class JSONType(sa.TypeDecorator[Any]):
    """JSON, stored as JSONB on PostgreSQL.

    The PostgreSQL type is looked up only when a PostgreSQL connection needs it, so
    SQLite users never import that dialect.
    """

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(sa.JSON())


JSON = JSONType()

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _namespace() -> sa.Column[str]:
    return sa.Column("namespace", sa.String(128), nullable=False, server_default="default")


pipelines = sa.Table(
    "pipelines",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    _namespace(),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("namespace", "name"),
)

pipeline_versions = sa.Table(
    "pipeline_versions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    _namespace(),
    sa.Column("pipeline_id", sa.String(32), sa.ForeignKey("pipelines.id"), nullable=False),
    sa.Column("digest", sa.String(80), nullable=False),
    sa.Column("spec", JSON, nullable=False),
    sa.Column("source_root", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("spec_digest", sa.String(80)),
    sa.Column("source_manifest", JSON),
    sa.UniqueConstraint("pipeline_id", "digest"),
)

# The source files of deployed versions, stored once per content digest.
source_files = sa.Table(
    "source_files",
    metadata,
    sa.Column("namespace", sa.String(128), primary_key=True, server_default="default"),
    sa.Column("digest", sa.String(80), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    _namespace(),
    sa.Column("pipeline_id", sa.String(32), sa.ForeignKey("pipelines.id"), nullable=False),
    sa.Column("version_id", sa.String(32), sa.ForeignKey("pipeline_versions.id"), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("parameters", JSON, nullable=False),
    sa.Column("trigger", sa.String(32), nullable=False, server_default="manual"),
    sa.Column("cache_enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("engine_host", sa.String(255)),
    sa.Column("engine_pid", sa.Integer),
    sa.Column("heartbeat_at", UTCDateTime),
    sa.Column("data_interval_start", UTCDateTime),
    sa.Column("data_interval_end", UTCDateTime),
    # The scheduler or CLI process driving the run; another may adopt it when the
    # heartbeat goes stale.
    sa.Column("engine_id", sa.String(32)),
    sa.Column("deadline_missed_at", UTCDateTime),
    sa.Column("cancel_requested_at", UTCDateTime),
    # Created or requeued through a server: it may read only its namespace's URI roots.
    sa.Column("confined", sa.Boolean, nullable=False, server_default=sa.false()),
    # The pipeline's own outputs (what its function returns) once the run has succeeded:
    # {"parameters": {name: value}, "artifacts": {name: artifact id or ids}}.
    sa.Column("outputs", JSON),
    # The experiment the run belongs to (by default its pipeline's name): runs of one
    # experiment are compared side by side, and a tuning study's trials share one.
    sa.Column("experiment", sa.String(128), nullable=False),
    # One scheduled run per interval, however many schedulers race to create it.
    sa.UniqueConstraint("pipeline_id", "trigger", "data_interval_start"),
    sa.Index(None, "namespace", "pipeline_id", "created_at"),
    sa.Index(None, "status"),
    # The runs list, newest first, without sorting every run.
    sa.Index(None, "namespace", "created_at", "id"),
    sa.Index(None, "namespace", "experiment", "created_at"),
)

task_runs = sa.Table(
    "task_runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    _namespace(),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("path", sa.String(512), nullable=False),
    sa.Column("task", sa.String(128), nullable=False),
    sa.Column("component", sa.String(128), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("inputs", JSON),
    sa.Column("outputs", JSON),
    sa.Column("cache_key", sa.String(80)),
    sa.Column("cached_from", sa.String(32)),
    sa.Column("pid", sa.Integer),
    # Where the attempt's process ran: a host name, or a cluster node's address and name.
    sa.Column("node", sa.String(255)),
    sa.Column("exit_code", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("log_path", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("retry_at", UTCDateTime),
    # Concurrency: the pool the attempt takes slots from, how many, and its priority.
    sa.Column("pool", sa.String(64)),
    sa.Column("pool_slots", sa.Integer),
    sa.Column("priority", sa.Integer),
    # Set when the attempt was cleared to be run again (a retry or clear from the API).
    sa.Column("cleared_at", UTCDateTime),
    # A sensor's wait: when it began (its timeout counts from there), when it is next
    # checked or poked, and how many checks found its condition false so far.
    sa.Column("deferred_at", UTCDateTime),
    sa.Column("wake_at", UTCDateTime),
    sa.Column("pokes", sa.Integer),
    sa.UniqueConstraint("run_id", "path", "attempt"),
    sa.Index(None, "cache_key", "status"),
    sa.Index(None, "status"),
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    _namespace(),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id")),
    sa.Column("task_run_id", sa.String(32), sa.ForeignKey("task_runs.id")),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("type", sa.String(128), nullable=False),
    sa.Column("uri", sa.Text, nullable=False),
    sa.Column("digest", sa.String(80)),
    sa.Column("size", sa.BigInteger),
    sa.Column("metadata", JSON),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index(None, "run_id"),
    sa.Index(None, "uri"),
)

lineage_events = sa.Table(
    "lineage_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _namespace(),
    sa.Column("task_run_id", sa.String(32), sa.ForeignKey("task_runs.id"), nullable=False),
    sa.Column("artifact_id", sa.String(32), sa.ForeignKey("artifacts.id"), nullable=False),
    sa.Column("direction", sa.String(8), nullable=False),
    sa.Column("input_name", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index(None, "artifact_id", "direction"),
    sa.Index(None, "task_run_id"),
)

metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _namespace(),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("task_run_id", sa.String(32), sa.ForeignKey("task_runs.id"), nullable=False),
    sa.Column("artifact_id", sa.String(32), sa.ForeignKey("artifacts.id")),
    sa.Column("key", sa.String(256), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("step", sa.Integer),
    sa.Column("logged_at", UTCDateTime, nullable=False),
    # True on the last point of each key an attempt logged: its final value, which run
    # comparisons read without grouping every point (NULL on the others).
    sa.Column("final", sa.Boolean),
    sa.Index(None, "run_id", "key"),
    sa.Index(
        "ix_metrics_run_id_final",
        "run_id",
        sqlite_where=sa.text("final"),
        postgresql_where=sa.text("final"),
    ),
)

# A deployed pipeline's schedule: which version it runs, paused or not, and the
# interval of the last scheduled run it created.
schedules = sa.Table(
    "schedules",
    metadata,
    sa.Column("pipeline_id", sa.String(32), sa.ForeignKey("pipelines.id"), primary_key=True),
    _namespace(),
    sa.Column("version_id", sa.String(32), sa.ForeignKey("pipeline_versions.id"), nullable=False),
    sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("last_start", UTCDateTime),
    sa.Column("last_end", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # Settings edited through the CLI or API, laid over the deployed spec's.
    sa.Column("overrides", JSON),
    # For asset schedules: the newest asset event already considered.
    sa.Column("asset_cursor", sa.Integer),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    _namespace(),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("namespace", "name"),
)

# Namespaces: each holds its own pipelines, runs, artifacts and the rest. ``default``
# always exists; users and their tokens are server-wide and live in it.
namespaces = sa.Table(
    "namespaces",
    metadata,
    sa.Column("namespace", sa.String(128), primary_key=True, server_default="default"),
    sa.Column("description", sa.String(1024), nullable=False, server_default=""),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# Who may do what in a namespace: one role per user and namespace (viewer, editor,
# admin). A server owner (users.role) needs none.
memberships = sa.Table(
    "memberships",
    metadata,
    _namespace(),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("namespace", "user_id"),
    sa.Index(None, "user_id"),
)

# API tokens are stored as their sha256; the secret itself is shown once, at creation.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    _namespace(),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
    sa.Column("last_used_at", UTCDateTime),
)

# Slots shared by every run; ``slots`` NULL means unlimited.
pools = sa.Table(
    "pools",
    metadata,
    sa.Column("namespace", sa.String(128), primary_key=True, server_default="default"),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("slots", sa.Integer),
    sa.Column("description", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

assets = sa.Table(
    "assets",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    _namespace(),
    sa.Column("name", sa.String(512), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("namespace", "name"),
)

# An asset was updated: by which run, task attempt and artifact, or from outside (no
# run: posted through the API or the CLI, or marked by a sensor), by ``source``.
asset_events = sa.Table(
    "asset_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _namespace(),
    sa.Column("asset_id", sa.String(32), sa.ForeignKey("assets.id"), nullable=False),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id")),
    sa.Column("task_run_id", sa.String(32), sa.ForeignKey("task_runs.id")),
    sa.Column("artifact_id", sa.String(32), sa.ForeignKey("artifacts.id")),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # External events only: who or what reported the update, and what it said about it.
    sa.Column("source", sa.String(256)),
    sa.Column("extra", JSONType),
    sa.Index(None, "asset_id", "id"),
)

# The runs an asset event triggered.
asset_triggers = sa.Table(
    "asset_triggers",
    metadata,
    sa.Column("event_id", sa.Integer, sa.ForeignKey("asset_events.id"), primary_key=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    _namespace(),
)

# Where the confined runs of a namespace may read, besides the artifact root (an absolute
# local path or a scheme://host/prefix URL; see docs/adr/0009).
uri_roots = sa.Table(
    "uri_roots",
    metadata,
    sa.Column("namespace", sa.String(128), primary_key=True, server_default="default"),
    sa.Column("root", sa.String(1024), primary_key=True),
    sa.Column("description", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# The notification outbox: one row per (event, target), written in the transaction of the
# state change that causes it and delivered later, outside any transaction (docs/adr/0010).
notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    _namespace(),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id")),
    sa.Column("pipeline", sa.String(128), nullable=False),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("task", sa.Text),
    sa.Column("target", JSON, nullable=False),
    sa.Column("payload", JSON, nullable=False),
    sa.Column("source_root", sa.Text),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("claimed_by", sa.String(64)),
    sa.Column("claimed_until", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime),
    sa.Index(None, "status", "next_attempt_at"),
    sa.Index(None, "run_id"),
)

# Tuning studies (headwater.tuning): what was asked, and how far it got.
studies = sa.Table(
    "studies",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    _namespace(),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("pipeline", sa.String(128), nullable=False),
    # TASK.METRIC: the final value of that metric, logged by that task, in a trial's run.
    sa.Column("objective", sa.String(300), nullable=False),
    sa.Column("direction", sa.String(16), nullable=False),
    sa.Column("sampler", sa.String(16), nullable=False),
    sa.Column("pruner", sa.String(16), nullable=False),
    sa.Column("space", JSON, nullable=False),
    # Trials, parallel, max failed, goal, seed, and where the pipeline comes from.
    sa.Column("settings", JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("namespace", "name"),
)

# The study's Optuna journal: one log entry per row, numbered from 0 in the order written.
study_journal = sa.Table(
    "study_journal",
    metadata,
    sa.Column("study_id", sa.String(32), sa.ForeignKey("studies.id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    _namespace(),
    sa.Column("entry", JSON, nullable=False),
)

# Each Optuna trial of a study and the run that evaluated it.
study_trials = sa.Table(
    "study_trials",
    metadata,
    sa.Column("study_id", sa.String(32), sa.ForeignKey("studies.id"), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
    _namespace(),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id")),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("params", JSON, nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Index(None, "run_id"),
)

# The model registry (docs/adr/0018): a named model of a namespace; ``last_version`` is
# the number its newest version took, incremented in the transaction that registers one,
# so that concurrent registrations get distinct numbers.
registered_models = sa.Table(
    "registered_models",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    _namespace(),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("tags", JSON),
    sa.Column("last_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("namespace", "name"),
)

# A version of a registered model: the artifact it is, where it was made, what it is.
model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    _namespace(),
    sa.Column("model_id", sa.String(32), sa.ForeignKey("registered_models.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("artifact_id", sa.String(32), sa.ForeignKey("artifacts.id"), nullable=False),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id")),
    sa.Column("task_run_id", sa.String(32), sa.ForeignKey("task_runs.id")),
    sa.Column("flavor", sa.String(64)),
    sa.Column("signature", JSON),
    sa.Column("tags", JSON),
    sa.Column("description", sa.Text),
    # The final metrics of the run that made it, when it was registered.
    sa.Column("metrics", JSON),
    sa.Column("created_by", sa.String(256)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("model_id", "version"),
    sa.Index(None, "artifact_id"),
)

# An alias (champion, challenger, ...) of a model points at one of its versions.
model_aliases = sa.Table(
    "model_aliases",
    metadata,
    sa.Column("model_id", sa.String(32), sa.ForeignKey("registered_models.id"), primary_key=True),
    sa.Column("alias", sa.String(64), primary_key=True),
    _namespace(),
    sa.Column("version_id", sa.String(32), sa.ForeignKey("model_versions.id"), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Every move of an alias: from which version number to which (None: set first, or
# deleted), by whom, when.
model_alias_history = sa.Table(
    "model_alias_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _namespace(),
    sa.Column("model_id", sa.String(32), sa.ForeignKey("registered_models.id"), nullable=False),
    sa.Column("alias", sa.String(64), nullable=False),
    sa.Column("from_version", sa.Integer),
    sa.Column("to_version", sa.Integer),
    sa.Column("actor", sa.String(256)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index(None, "model_id", "id"),
)

# A deployment (docs/adr/0022): a name that ``headwater serve --deployment`` answers, the
# model version it follows (``NAME@ALIAS``, ``NAME:VERSION`` or ``NAME``), an optional
# canary with the percentage of requests it takes, and an optional shadow that sees a
# copy of every request. ``revision`` counts its changes: a server polls it.
deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    _namespace(),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("model", sa.String(256), nullable=False),
    sa.Column("canary", sa.String(256)),
    sa.Column("canary_percent", sa.Float, nullable=False, server_default="0"),
    sa.Column("shadow", sa.String(256)),
    sa.Column("revision", sa.Integer, nullable=False, server_default="1"),
    sa.Column("created_by", sa.String(256)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("namespace", "name"),
)

# Every configuration a deployment had (create, update, promote, rollback), by whom.
deployment_revisions = sa.Table(
    "deployment_revisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _namespace(),
    sa.Column("deployment_id", sa.String(32), sa.ForeignKey("deployments.id"), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("model", sa.String(256), nullable=False),
    sa.Column("canary", sa.String(256)),
    sa.Column("canary_percent", sa.Float, nullable=False, server_default="0"),
    sa.Column("shadow", sa.String(256)),
    sa.Column("actor", sa.String(256)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index(None, "deployment_id", "id"),
)

# What each server of a deployment served, in which role (main, canary, shadow), from
# when until when (open: still serving): the serving hop of lineage.
deployment_serving = sa.Table(
    "deployment_serving",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _namespace(),
    sa.Column("deployment_id", sa.String(32), sa.ForeignKey("deployments.id"), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("version_id", sa.String(32), sa.ForeignKey("model_versions.id"), nullable=False),
    sa.Column("server", sa.String(256), nullable=False),
    sa.Column("since", UTCDateTime, nullable=False),
    sa.Column("until", UTCDateTime),
    sa.Index(None, "deployment_id", "id"),
    sa.Index(None, "version_id"),
)

# Secrets, connections and variables tasks read (docs/teams-and-security.md). ``value``
# of a secret and ``password`` of a connection are Fernet tokens, never plaintext.
secrets = sa.Table(
    "secrets",
    metadata,
    sa.Column("namespace", sa.String(128), primary_key=True, server_default="default"),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(256)),
    sa.Column("updated_by", sa.String(256)),
)

connections = sa.Table(
    "connections",
    metadata,
    sa.Column("namespace", sa.String(128), primary_key=True, server_default="default"),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("conn_type", sa.String(32), nullable=False),
    sa.Column("host", sa.String(255)),
    sa.Column("port", sa.Integer),
    sa.Column("login", sa.String(255)),
    sa.Column("password", sa.Text),
    sa.Column("schema_name", sa.String(255)),
    sa.Column("extras", JSON, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(256)),
    sa.Column("updated_by", sa.String(256)),
)

variables = sa.Table(
    "variables",
    metadata,
    sa.Column("namespace", sa.String(128), primary_key=True, server_default="default"),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(256)),
    sa.Column("updated_by", sa.String(256)),
)

# What was done through the API: every POST, PUT, PATCH and DELETE on /api/v1, by whom,
# on which route, with what outcome. ``body`` is a summary with secrets and large values
# removed, never the body itself. Kept for HEADWATER_AUDIT_RETENTION_DAYS.
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _namespace(),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("user_id", sa.String(32)),
    sa.Column("user", sa.String(256), nullable=False),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("route", sa.String(512), nullable=False),
    sa.Column("path_params", JSON),
    sa.Column("body", JSON),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("client", sa.String(64)),
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Index(None, "namespace", "id"),
    sa.Index(None, "at"),
)
