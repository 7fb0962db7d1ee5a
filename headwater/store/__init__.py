"""The metadata store (SQLAlchemy 2 + Alembic; SQLite by default, PostgreSQL for teams)
and the artifact store (fsspec).

Callers hold one :class:`MetadataStore` and reach each area through it:
``store.pipelines``, ``store.runs``, ``store.tasks``, ``store.lineage``,
``store.schedules``, ``store.control``, ``store.pools``, ``store.auth``,
``store.assets``, ``store.queries``, ``store.experiments``, ``store.models``, ``store.deployments``,
``store.roots``, ``store.outbox``, ``store.studies``, ``store.namespaces``,
``store.secrets``, ``store.connections``, ``store.variables`` and ``store.audit``.
"""

from headwater.errors import Conflict, InvalidValue, NotFound, StoreError
from headwater.store._artifacts import ArtifactStore
from headwater.store._assets import AssetEventRecord, AssetRecord, AssetStore
from headwater.store._audit import AuditFilter, AuditRecord, AuditStore, NewAuditEvent
from headwater.store._auth import Authenticated, AuthStore, TokenRecord, UserRecord
from headwater.store._base import Database, new_id, process_owner
from headwater.store._compare import ComparedRun, Comparison, parse_condition
from headwater.store._control import ControlStore
from headwater.store._db import DATABASE_FAILURES, create_engine, failure_cause, migrate
from headwater.store._deployments import (
    DeploymentRecord,
    DeploymentRevision,
    DeploymentStore,
    ServingRecord,
)
from headwater.store._experiments import ExperimentStore
from headwater.store._lineage import LineageStore
from headwater.store._metadata import MetadataStore
from headwater.store._models import ModelStore
from headwater.store._namespaces import (
    DEFAULT_NAMESPACE,
    NAMESPACE_ROLES,
    MemberRecord,
    NamespaceRecord,
    NamespaceStore,
    check_namespace,
)
from headwater.store._outbox import (
    DeliveryStatus,
    NewNotification,
    NotificationRecord,
    OutboxStore,
)
from headwater.store._pipelines import PipelineStore
from headwater.store._pools import DEFAULT_POOL, PoolRecord, PoolStore, SlotRequest
from headwater.store._queries import PipelineSummary, QueryStore, RunFilter
from headwater.store._records import (
    ALIAS_RE,
    LATEST,
    MODEL_NAME_RE,
    MODEL_TYPES,
    RUN_TEMPLATES,
    AliasChange,
    ArtifactRecord,
    ExperimentSummary,
    LineageNode,
    MetricPoint,
    ModelRecord,
    ModelVersionRecord,
    NewArtifact,
    NewModelVersion,
    RunRecord,
    RunResult,
    ScheduleRecord,
    TaskRunRecord,
    VersionRecord,
    check_alias,
    check_experiment,
    check_model_name,
    check_tags,
)
from headwater.store._roots import RootStore, UriRootRecord
from headwater.store._runs import RunStore
from headwater.store._schedules import DueRun, ScheduleRaceLost, ScheduleStore
from headwater.store._secrets import (
    CONNECTION_TYPES,
    ConnectionInfo,
    ConnectionStore,
    SecretBackend,
    SecretInfo,
    SecretStore,
    VariableRecord,
    VariableStore,
    parse_connection_uri,
)
from headwater.store._studies import StudyRecord, StudyStore, TrialRecord
from headwater.store._tasks import TaskStore

__all__ = [
    "ALIAS_RE",
    "CONNECTION_TYPES",
    "DATABASE_FAILURES",
    "DEFAULT_NAMESPACE",
    "DEFAULT_POOL",
    "LATEST",
    "MODEL_NAME_RE",
    "MODEL_TYPES",
    "NAMESPACE_ROLES",
    "RUN_TEMPLATES",
    "AliasChange",
    "ArtifactRecord",
    "ArtifactStore",
    "AssetEventRecord",
    "AssetRecord",
    "AssetStore",
    "AuditFilter",
    "AuditRecord",
    "AuditStore",
    "AuthStore",
    "Authenticated",
    "ComparedRun",
    "Comparison",
    "Conflict",
    "ConnectionInfo",
    "ConnectionStore",
    "ControlStore",
    "Database",
    "DeliveryStatus",
    "DeploymentRecord",
    "DeploymentRevision",
    "DeploymentStore",
    "DueRun",
    "ExperimentStore",
    "ExperimentSummary",
    "InvalidValue",
    "LineageNode",
    "LineageStore",
    "MemberRecord",
    "MetadataStore",
    "MetricPoint",
    "ModelRecord",
    "ModelStore",
    "ModelVersionRecord",
    "NamespaceRecord",
    "NamespaceStore",
    "NewArtifact",
    "NewAuditEvent",
    "NewModelVersion",
    "NewNotification",
    "NotFound",
    "NotificationRecord",
    "OutboxStore",
    "PipelineStore",
    "PipelineSummary",
    "PoolRecord",
    "PoolStore",
    "QueryStore",
    "RootStore",
    "RunFilter",
    "RunRecord",
    "RunResult",
    "RunStore",
    "ScheduleRaceLost",
    "ScheduleRecord",
    "ScheduleStore",
    "SecretBackend",
    "SecretInfo",
    "SecretStore",
    "ServingRecord",
    "SlotRequest",
    "StoreError",
    "StudyRecord",
    "StudyStore",
    "TaskRunRecord",
    "TaskStore",
    "TokenRecord",
    "TrialRecord",
    "UriRootRecord",
    "UserRecord",
    "VariableRecord",
    "VariableStore",
    "VersionRecord",
    "check_alias",
    "check_experiment",
    "check_model_name",
    "check_namespace",
    "check_tags",
    "create_engine",
    "failure_cause",
    "migrate",
    "new_id",
    "parse_condition",
    "parse_connection_uri",
    "process_owner",
]
