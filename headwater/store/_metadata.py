"""The metadata store: one object over one database and namespace, made of area stores.

Each area is a small class over the shared tables, reached as an attribute:
``store.runs.get_run(...)``, ``store.pools.list()``. They share one
:class:`~headwater.store._base.Database` handle, so a :meth:`MetadataStore.batch`
covers the writes of all of them in one transaction. Every status of a run or an
attempt is written through :mod:`headwater.store._transitions`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from headwater.store._assets import AssetStore
from headwater.store._audit import AuditStore
from headwater.store._auth import AuthStore
from headwater.store._base import Database
from headwater.store._control import ControlStore
from headwater.store._db import create_engine, migrate
from headwater.store._deployments import DeploymentStore
from headwater.store._experiments import ExperimentStore
from headwater.store._lineage import LineageStore
from headwater.store._models import ModelStore
from headwater.store._namespaces import NamespaceStore
from headwater.store._outbox import OutboxStore
from headwater.store._pipelines import PipelineStore
from headwater.store._pools import PoolStore
from headwater.store._queries import QueryStore
from headwater.store._roots import RootStore
from headwater.store._runs import RunStore
from headwater.store._schedules import ScheduleStore
from headwater.store._secrets import ConnectionStore, SecretStore, VariableStore
from headwater.store._studies import StudyStore
from headwater.store._tasks import TaskStore


class MetadataStore:
    """Pipelines, runs, task attempts, artifacts, lineage, schedules, pools, users,
    notifications and the audit log of one namespace, in SQLite or PostgreSQL.

    >>> store = MetadataStore.open("sqlite:///headwater.db")
    >>> store.runs.list_runs(limit=5)  # doctest: +SKIP
    """

    pipelines: PipelineStore
    runs: RunStore
    tasks: TaskStore
    lineage: LineageStore
    schedules: ScheduleStore
    control: ControlStore
    pools: PoolStore
    auth: AuthStore
    assets: AssetStore
    queries: QueryStore
    # Runs of an experiment with their parameters and final metrics, side by side.
    experiments: ExperimentStore
    # The model registry: named models, their versions and aliases.
    models: ModelStore
    # Deployments: what servers answer by name, their revisions and serving history.
    deployments: DeploymentStore
    # Where the runs a server creates may read, besides the artifact root.
    roots: RootStore
    # Notifications to send, written in the same transactions as the changes they tell of.
    outbox: OutboxStore
    # Tuning studies, their Optuna journals and trials.
    studies: StudyStore
    # Secrets (encrypted), connections (password encrypted) and variables tasks read.
    secrets: SecretStore
    connections: ConnectionStore
    variables: VariableStore
    # What was done through the API, by whom, with what outcome.
    audit: AuditStore

    def __init__(self, engine: sa.Engine, namespace: str = "default") -> None:
        self._db = db = Database(engine, namespace)
        self.pipelines = PipelineStore(db)
        self.runs = RunStore(db)
        self.lineage = LineageStore(db)
        self.tasks = TaskStore(db, self.lineage)
        self.schedules = ScheduleStore(db)
        self.control = ControlStore(db)
        self.pools = PoolStore(db)
        self.auth = AuthStore(db)
        self.assets = AssetStore(db)
        self.queries = QueryStore(db)
        self.experiments = ExperimentStore(db, self.runs)
        self.models = ModelStore(db, self.lineage, self.experiments)
        self.deployments = DeploymentStore(db, self.models)
        self.roots = RootStore(db)
        self.outbox = OutboxStore(db)
        self.studies = StudyStore(db)
        self.namespaces = NamespaceStore(db)
        self.secrets = SecretStore(db)
        self.connections = ConnectionStore(db)
        self.variables = VariableStore(db)
        self.audit = AuditStore(db)

    @classmethod
    def open(cls, url: str, namespace: str = "default") -> MetadataStore:
        """Connect to ``url`` and bring its schema up to date."""
        engine = create_engine(url)
        migrate(engine)
        return cls(engine, namespace)

    def scoped(self, namespace: str) -> MetadataStore:
        """A handle on the same database scoped to ``namespace`` (do not close it: the
        database connection pool is this handle's)."""
        if namespace == self.namespace:
            return self
        return MetadataStore(self.engine, namespace)

    @property
    def engine(self) -> sa.Engine:
        return self._db.engine

    @property
    def namespace(self) -> str:
        return self._db.namespace

    @property
    def postgres(self) -> bool:
        return self._db.postgres

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Make every call inside one transaction, committed at the end (or rolled back)."""
        with self._db.batch():
            yield

    def close(self) -> None:
        self._db.close()
