"""The metadata store (SQLAlchemy 2 + Alembic; SQLite by default, PostgreSQL for teams)
and the artifact store (fsspec)."""

from headwater.store._artifacts import ArtifactStore
from headwater.store._db import StoreError, create_engine, migrate
from headwater.store._metadata import (
    ArtifactRecord,
    LineageNode,
    MetadataStore,
    MetricPoint,
    NewArtifact,
    NotFound,
    RunRecord,
    ScheduleRecord,
    TaskRunRecord,
    VersionRecord,
    new_id,
)

__all__ = [
    "ArtifactRecord",
    "ArtifactStore",
    "LineageNode",
    "MetadataStore",
    "MetricPoint",
    "NewArtifact",
    "NotFound",
    "RunRecord",
    "ScheduleRecord",
    "StoreError",
    "TaskRunRecord",
    "VersionRecord",
    "create_engine",
    "migrate",
    "new_id",
]
