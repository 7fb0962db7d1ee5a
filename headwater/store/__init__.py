"""The metadata store (SQLAlchemy 2 + Alembic; SQLite by default, PostgreSQL for teams)
and the artifact store (fsspec)."""

from headwater.errors import Conflict, InvalidValue, NotFound, StoreError
from headwater.store._artifacts import ArtifactStore
from headwater.store._assets import AssetEventRecord, AssetRecord
from headwater.store._auth import Authenticated, TokenRecord, UserRecord
from headwater.store._base import process_owner
from headwater.store._control import DEFAULT_POOL, PoolRecord, SlotRequest
from headwater.store._db import create_engine, migrate
from headwater.store._metadata import (
    ArtifactRecord,
    LineageNode,
    MetadataStore,
    MetricPoint,
    NewArtifact,
    RunRecord,
    ScheduleRecord,
    TaskRunRecord,
    VersionRecord,
    new_id,
)
from headwater.store._outbox import (
    DeliveryStatus,
    NewNotification,
    NotificationRecord,
    OutboxStore,
)
from headwater.store._queries import PipelineSummary, RunFilter
from headwater.store._roots import UriRootRecord

__all__ = [
    "DEFAULT_POOL",
    "ArtifactRecord",
    "ArtifactStore",
    "AssetEventRecord",
    "AssetRecord",
    "Authenticated",
    "Conflict",
    "DeliveryStatus",
    "InvalidValue",
    "LineageNode",
    "MetadataStore",
    "MetricPoint",
    "NewArtifact",
    "NewNotification",
    "NotFound",
    "NotificationRecord",
    "OutboxStore",
    "PipelineSummary",
    "PoolRecord",
    "RunFilter",
    "RunRecord",
    "ScheduleRecord",
    "SlotRequest",
    "StoreError",
    "TaskRunRecord",
    "TokenRecord",
    "UriRootRecord",
    "UserRecord",
    "VersionRecord",
    "create_engine",
    "migrate",
    "new_id",
    "process_owner",
]
