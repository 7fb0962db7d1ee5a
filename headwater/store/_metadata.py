"""The metadata store: pipelines, versions, runs, task attempts, artifacts, lineage, metrics.

Every method is one transaction. Status changes are checked against the state
machine in :mod:`headwater.engine._states` and applied only if the row is
still in the status the caller saw (compare-and-set), so a lost race is an
error rather than a silent overwrite.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from headwater.errors import IllegalTransition, NotFound
from headwater.states import TASK_DONE, RunStatus, TaskStatus, check_run, check_task
from headwater.store import _schema as t
from headwater.store._assets import AssetStore
from headwater.store._auth import AuthStore
from headwater.store._base import StoreBase, fields_of, new_id, now
from headwater.store._base import aware as _aware
from headwater.store._control import ControlStore
from headwater.store._db import create_engine, migrate
from headwater.store._outbox import OutboxStore
from headwater.store._queries import QueryStore
from headwater.store._roots import RootStore

__all__ = ["NotFound", "new_id", "now"]


@dataclass(frozen=True)
class RunRecord:
    id: str
    pipeline_id: str
    pipeline: str
    version_id: str
    status: RunStatus
    parameters: dict[str, Any]
    trigger: str
    cache_enabled: bool
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    engine_host: str | None
    engine_pid: int | None
    heartbeat_at: datetime | None
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    engine_id: str | None = None
    deadline_missed_at: datetime | None = None
    cancel_requested_at: datetime | None = None
    # Created or requeued through a server: it may read only its namespace's URI roots.
    confined: bool = False


@dataclass(frozen=True)
class ScheduleRecord:
    """A pipeline's schedule: the deployed version it runs and the last interval it covered."""

    pipeline_id: str
    pipeline: str
    version_id: str
    paused: bool
    last_start: datetime | None
    last_end: datetime | None
    created_at: datetime
    updated_at: datetime
    overrides: dict[str, Any] | None = None
    asset_cursor: int | None = None


@dataclass(frozen=True)
class TaskRunRecord:
    id: str
    run_id: str
    path: str
    task: str
    component: str
    attempt: int
    status: TaskStatus
    inputs: dict[str, Any] | None
    outputs: dict[str, Any] | None
    cache_key: str | None
    cached_from: str | None
    pid: int | None
    exit_code: int | None
    error: str | None
    log_path: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    retry_at: datetime | None
    pool: str | None = None
    pool_slots: int | None = None
    priority: int | None = None
    cleared_at: datetime | None = None

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


@dataclass(frozen=True)
class ArtifactRecord:
    id: str
    run_id: str | None
    task_run_id: str | None
    name: str
    type: str
    uri: str
    digest: str | None
    size: int | None
    metadata: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class VersionRecord:
    """An immutable pipeline version: its spec and, when deployed, a snapshot of the source
    files its components need (``source_manifest``: path -> content digest).

    ``digest`` identifies the version: the spec digest alone, or with the snapshot's
    manifest. ``new`` says whether the call that returned it created it.
    """

    id: str
    pipeline_id: str
    pipeline: str
    digest: str
    spec: dict[str, Any]
    source_root: str | None
    created_at: datetime
    spec_digest: str | None = None
    source_manifest: dict[str, str] | None = None
    new: bool = False


@dataclass(frozen=True)
class NewArtifact:
    """An artifact a task produced, to be recorded with the task's completion."""

    name: str
    type: str
    uri: str
    digest: str | None
    size: int | None
    metadata: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)


@dataclass(frozen=True)
class MetricPoint:
    key: str
    value: float
    step: int | None
    logged_at: datetime
    artifact_id: str | None = None


@dataclass(frozen=True)
class LineageNode:
    """An artifact found by a lineage walk, ``depth`` hops away.

    ``task_run`` is the attempt that links it to the previous hop (the consumer,
    walking upstream; the producer, walking downstream); ``producer`` is the
    attempt that made it.
    """

    artifact: ArtifactRecord
    task_run: TaskRunRecord | None
    depth: int
    producer: TaskRunRecord | None = None


def _version(row: sa.Row[Any], pipeline: str) -> VersionRecord:
    values = fields_of(VersionRecord, row._mapping)
    values.update(pipeline=pipeline, new=False)
    return VersionRecord(**values)


class _LostRace(Exception):
    """Another scheduler moved the schedule first."""


def _schedule(row: sa.Row[Any]) -> ScheduleRecord:
    values = fields_of(ScheduleRecord, row._mapping)
    values["paused"] = bool(values["paused"])
    return ScheduleRecord(**values)


def _run(row: sa.Row[Any]) -> RunRecord:
    values = fields_of(RunRecord, row._mapping)
    values.update(
        status=RunStatus(values["status"]),
        parameters=values["parameters"] or {},
        cache_enabled=bool(values["cache_enabled"]),
        confined=bool(values["confined"]),
    )
    return RunRecord(**values)


def _task(row: sa.Row[Any] | dict[str, Any]) -> TaskRunRecord:
    m = row if isinstance(row, dict) else row._mapping
    values = fields_of(TaskRunRecord, m)
    values["status"] = TaskStatus(values["status"])
    return TaskRunRecord(**values)


def _artifact(row: sa.Row[Any]) -> ArtifactRecord:
    values = fields_of(ArtifactRecord, row._mapping)
    values["metadata"] = values["metadata"] or {}
    return ArtifactRecord(**values)


_RUN_COLUMNS = [*t.runs.c, t.pipelines.c.name.label("pipeline")]
_SCHED = t.schedules.c
_MOVE_FIRST = (
    t.schedules.update()
    .where(_SCHED.pipeline_id == sa.bindparam("pid"), _SCHED.last_start.is_(None))
    .values(
        last_start=sa.bindparam("new_start"),
        last_end=sa.bindparam("new_end"),
        updated_at=sa.bindparam("stamp"),
    )
)
_MOVE_NEXT = (
    t.schedules.update()
    .where(_SCHED.pipeline_id == sa.bindparam("pid"), _SCHED.last_start == sa.bindparam("old"))
    .values(
        last_start=sa.bindparam("new_start"),
        last_end=sa.bindparam("new_end"),
        updated_at=sa.bindparam("stamp"),
    )
)
_TASK_UPDATES: dict[frozenset[str], sa.Update] = {}


def _task_update(keys: frozenset[str]) -> sa.Update:
    """``UPDATE task_runs SET <keys> WHERE id = :_id AND status = :_current``, built once."""
    stmt = _TASK_UPDATES.get(keys)
    if stmt is None:
        stmt = (
            t.task_runs.update()
            .where(
                t.task_runs.c.id == sa.bindparam("_id"),
                t.task_runs.c.status == sa.bindparam("_current"),
            )
            .values({k: sa.bindparam(f"v_{k}") for k in sorted(keys)})
        )
        _TASK_UPDATES[keys] = stmt
    return stmt


class MetadataStore(AuthStore, ControlStore, AssetStore, QueryStore, RootStore, StoreBase):
    """Runs, task attempts, artifacts, lineage and metrics, in SQLite or PostgreSQL."""

    def __init__(self, engine: sa.Engine, namespace: str = "default") -> None:
        super().__init__(engine, namespace)
        # Notifications to send, written in the same transactions as the changes they tell of.
        self.outbox = OutboxStore(self)

    @classmethod
    def open(cls, url: str, namespace: str = "default") -> MetadataStore:
        """Connect to ``url`` and bring its schema up to date."""
        engine = create_engine(url)
        migrate(engine)
        return cls(engine, namespace)

    # ------------------------------------------------------------------ pipelines

    def register_version(
        self,
        name: str,
        description: str | None,
        digest: str,
        spec: dict[str, Any],
        source_root: str | None,
        *,
        spec_digest: str | None = None,
        sources: dict[str, bytes] | None = None,
    ) -> VersionRecord:
        """The version of pipeline ``name`` with ``digest``, created if new (idempotent).

        ``sources`` (relative path -> bytes) is stored as the version's snapshot; each
        distinct file content is stored once.
        """
        ns = self.namespace
        manifest = None
        if sources is not None:
            manifest = {
                path: "sha256:" + hashlib.sha256(data).hexdigest()
                for path, data in sorted(sources.items())
            }
        pv = t.pipeline_versions
        with self._begin() as conn:
            # Insert-or-get: processes registering the same new pipeline or version at
            # once all end up with the one row, and exactly one of them created it.
            pid = self._pipeline_id(conn, name)
            if pid is None:
                conn.execute(
                    self._insert_new(t.pipelines).values(
                        id=new_id(),
                        namespace=ns,
                        name=name,
                        description=description,
                        created_at=now(),
                    )
                )
                pid = self._pipeline_id(conn, name)
                assert pid is not None
            wanted = sa.select(pv).where(pv.c.pipeline_id == pid, pv.c.digest == digest)
            row = conn.execute(wanted).first()
            if row is not None:
                return _version(row, name)
            vid = new_id()
            created = now()
            if sources is not None and manifest is not None:
                self._store_sources(conn, sources, manifest, created)
            made = conn.execute(
                self._insert_new(pv)
                .values(
                    id=vid,
                    namespace=ns,
                    pipeline_id=pid,
                    digest=digest,
                    spec=spec,
                    source_root=source_root,
                    created_at=created,
                    spec_digest=spec_digest,
                    source_manifest=manifest,
                )
                .returning(pv.c.id)
            ).first()
            if made is not None:
                return VersionRecord(
                    vid, pid, name, digest, spec, source_root, created, spec_digest, manifest, True
                )
            return _version(conn.execute(wanted).one(), name)

    def _pipeline_id(self, conn: sa.Connection, name: str) -> str | None:
        p = t.pipelines.c
        found = conn.execute(
            sa.select(p.id).where(p.namespace == self.namespace, p.name == name)
        ).scalar()
        return None if found is None else str(found)

    def _store_sources(
        self,
        conn: sa.Connection,
        sources: dict[str, bytes],
        manifest: dict[str, str],
        ts: datetime,
    ) -> None:
        wanted = {manifest[p]: data for p, data in sources.items()}
        have = set(
            conn.execute(
                sa.select(t.source_files.c.digest).where(
                    t.source_files.c.namespace == self.namespace,
                    t.source_files.c.digest.in_(list(wanted)),
                )
            ).scalars()
        )
        rows = [
            {
                "namespace": self.namespace,
                "digest": d,
                "size": len(data),
                "content": data,
                "created_at": ts,
            }
            for d, data in wanted.items()
            if d not in have
        ]
        if rows:  # another deploy may store the same file meanwhile: it is the same bytes
            conn.execute(self._insert_new(t.source_files), rows)

    def read_sources(self, version: VersionRecord) -> dict[str, bytes]:
        """The snapshot of a deployed version: relative path -> bytes."""
        manifest = version.source_manifest or {}
        with self._connect() as conn:
            rows = conn.execute(
                sa.select(t.source_files.c.digest, t.source_files.c.content).where(
                    t.source_files.c.namespace == self.namespace,
                    t.source_files.c.digest.in_(list(set(manifest.values()))),
                )
            ).all()
        blobs = {r.digest: bytes(r.content) for r in rows}
        missing = sorted(p for p, d in manifest.items() if d not in blobs)
        if missing:
            raise NotFound(f"the snapshot of version {version.id} lacks {', '.join(missing)}")
        return {path: blobs[d] for path, d in manifest.items()}

    def list_versions(self, pipeline: str) -> list[VersionRecord]:
        """Every version of ``pipeline``, newest first."""
        with self._connect() as conn:
            rows = conn.execute(
                sa.select(t.pipeline_versions)
                .join(t.pipelines, t.pipelines.c.id == t.pipeline_versions.c.pipeline_id)
                .where(t.pipelines.c.namespace == self.namespace, t.pipelines.c.name == pipeline)
                .order_by(t.pipeline_versions.c.created_at.desc(), t.pipeline_versions.c.id.desc())
            ).all()
        return [_version(r, pipeline) for r in rows]

    def list_pipelines(self) -> list[tuple[str, int, datetime]]:
        """(name, number of versions, newest version's time) for every pipeline."""
        pv = t.pipeline_versions
        with self._connect() as conn:
            rows = conn.execute(
                sa.select(t.pipelines.c.name, sa.func.count(pv.c.id), sa.func.max(pv.c.created_at))
                .join(pv, pv.c.pipeline_id == t.pipelines.c.id)
                .where(t.pipelines.c.namespace == self.namespace)
                .group_by(t.pipelines.c.name)
                .order_by(t.pipelines.c.name)
            ).all()
        return [(r[0], int(r[1]), _aware(r[2])) for r in rows]

    def versions_by_id(self, ids: Iterable[str]) -> dict[str, VersionRecord]:
        """Several versions in one query (missing ids are left out)."""
        wanted = list(set(ids))
        if not wanted:
            return {}
        with self._connect() as conn:
            rows = conn.execute(
                sa.select(t.pipeline_versions, t.pipelines.c.name.label("pipeline"))
                .join(t.pipelines, t.pipelines.c.id == t.pipeline_versions.c.pipeline_id)
                .where(t.pipeline_versions.c.id.in_(wanted))
            ).all()
        return {r.id: _version(r, r._mapping["pipeline"]) for r in rows}

    def get_version(self, version_id: str) -> VersionRecord:
        with self._connect() as conn:
            row = conn.execute(
                sa.select(t.pipeline_versions, t.pipelines.c.name.label("pipeline"))
                .join(t.pipelines, t.pipelines.c.id == t.pipeline_versions.c.pipeline_id)
                .where(t.pipeline_versions.c.id == version_id)
            ).first()
        if row is None:
            raise NotFound(f"no pipeline version '{version_id}'")
        return _version(row, row._mapping["pipeline"])

    # ------------------------------------------------------------------ runs

    def create_run(
        self,
        version: VersionRecord,
        parameters: dict[str, Any],
        *,
        trigger: str = "manual",
        cache_enabled: bool = True,
        run_id: str | None = None,
        interval: tuple[datetime, datetime] | None = None,
        owner: str | None = None,
        confined: bool = True,
    ) -> RunRecord:
        """A queued run of ``version``; ``interval`` is the data interval it covers, if any.

        ``owner`` is the engine that will drive it (the CLI's own), so that no scheduler
        claims it first; without one, a scheduler picks it up. A ``confined`` run (the
        default: what a server creates) reads only its namespace's URI roots; a run a user
        starts on their own machine is created with ``confined=False``.
        """
        rid = run_id or new_id()
        with self._begin() as conn:
            self._insert_run(
                conn,
                rid,
                version.pipeline_id,
                version.id,
                parameters,
                trigger,
                cache_enabled=cache_enabled,
                interval=interval,
                owner=owner,
                confined=confined,
            )
        return self.get_run(rid)

    def mark_deadline_missed(self, run_id: str) -> bool:
        """Record that the run passed its deadline; True the first time only."""
        with self._begin() as conn:
            return bool(
                conn.execute(
                    t.runs.update()
                    .where(t.runs.c.id == run_id, t.runs.c.deadline_missed_at.is_(None))
                    .values(deadline_missed_at=now())
                ).rowcount
            )

    # ------------------------------------------------------------------ schedules

    def upsert_schedule(self, version: VersionRecord) -> ScheduleRecord:
        """Schedule ``version`` (a new deploy moves an existing schedule to it, keeping its
        pause state and the intervals it already covered)."""
        ts = now()
        s = t.schedules
        with self._begin() as conn:
            done = conn.execute(
                s.update()
                .where(s.c.pipeline_id == version.pipeline_id, s.c.namespace == self.namespace)
                .values(version_id=version.id, updated_at=ts)
            ).rowcount
            if not done:
                conn.execute(
                    s.insert().values(
                        pipeline_id=version.pipeline_id,
                        namespace=self.namespace,
                        version_id=version.id,
                        # Asset updates made before the deploy do not trigger it.
                        asset_cursor=sa.select(
                            sa.func.coalesce(sa.func.max(t.asset_events.c.id), 0)
                        ).scalar_subquery(),
                        paused=False,
                        created_at=ts,
                        updated_at=ts,
                    )
                )
        return self.get_schedule(version.pipeline)

    def schedules(self) -> list[ScheduleRecord]:
        with self._connect() as conn:
            rows = conn.execute(
                sa.select(t.schedules, t.pipelines.c.name.label("pipeline"))
                .join(t.pipelines, t.pipelines.c.id == t.schedules.c.pipeline_id)
                .where(t.schedules.c.namespace == self.namespace)
                .order_by(t.pipelines.c.name)
            ).all()
        return [_schedule(r) for r in rows]

    def get_schedule(self, pipeline: str) -> ScheduleRecord:
        with self._connect() as conn:
            row = conn.execute(
                sa.select(t.schedules, t.pipelines.c.name.label("pipeline"))
                .join(t.pipelines, t.pipelines.c.id == t.schedules.c.pipeline_id)
                .where(t.schedules.c.namespace == self.namespace, t.pipelines.c.name == pipeline)
            ).first()
        if row is not None:
            return _schedule(row)
        raise NotFound(
            f"pipeline '{pipeline}' has no schedule",
            hint="deploy a pipeline that has @pipeline(schedule=...) with 'headwater deploy'",
        )

    def set_paused(self, pipeline: str, paused: bool) -> ScheduleRecord:
        schedule = self.get_schedule(pipeline)
        with self._begin() as conn:
            conn.execute(
                t.schedules.update()
                .where(t.schedules.c.pipeline_id == schedule.pipeline_id)
                .values(paused=paused, updated_at=now())
            )
        return self.get_schedule(pipeline)

    def set_schedule_overrides(self, pipeline: str, overrides: dict[str, Any]) -> ScheduleRecord:
        """Replace a schedule's edited settings (``{}`` returns it to the deployed spec's)."""
        schedule = self.get_schedule(pipeline)
        with self._begin() as conn:
            conn.execute(
                t.schedules.update()
                .where(t.schedules.c.pipeline_id == schedule.pipeline_id)
                .values(overrides=overrides or None, updated_at=now())
            )
        return self.get_schedule(pipeline)

    def active_runs(self, pipeline_id: str) -> int:
        """Runs of a pipeline that are queued or running."""
        with self._connect() as conn:
            count = conn.execute(
                sa.select(sa.func.count()).where(
                    t.runs.c.pipeline_id == pipeline_id,
                    t.runs.c.namespace == self.namespace,
                    t.runs.c.status.in_([RunStatus.QUEUED.value, RunStatus.RUNNING.value]),
                )
            ).scalar()
        return int(count or 0)

    def runs_by_interval(self, pipeline_id: str) -> dict[datetime, list[RunRecord]]:
        """A pipeline's runs that cover a data interval, by interval start, oldest first."""
        with self._connect() as conn:
            rows = conn.execute(
                sa.select(*_RUN_COLUMNS)
                .join(t.pipelines, t.pipelines.c.id == t.runs.c.pipeline_id)
                .where(
                    t.runs.c.pipeline_id == pipeline_id,
                    t.runs.c.namespace == self.namespace,
                    t.runs.c.data_interval_start.is_not(None),
                )
                .order_by(t.runs.c.created_at, t.runs.c.id)
            ).all()
        found: dict[datetime, list[RunRecord]] = {}
        for r in rows:
            run = _run(r)
            assert run.data_interval_start is not None
            found.setdefault(run.data_interval_start, []).append(run)
        return found

    def create_scheduled_run(
        self,
        schedule: ScheduleRecord,
        version: VersionRecord,
        parameters: dict[str, Any],
        start: datetime,
        end: datetime,
        run_id: str,
    ) -> RunRecord | None:
        """The run for one interval of ``schedule``, and the schedule moved past it, in one
        transaction; None when another scheduler created it first."""
        created = now()
        try:
            with self._begin() as conn:
                # Statements built once and run with parameters: a pass creates many runs.
                moved = conn.execute(
                    _MOVE_FIRST if schedule.last_start is None else _MOVE_NEXT,
                    {
                        "pid": schedule.pipeline_id,
                        "old": schedule.last_start,
                        "new_start": start,
                        "new_end": end,
                        "stamp": created,
                    },
                ).rowcount
                if moved != 1:
                    raise _LostRace
                self._insert_run(
                    conn,
                    run_id,
                    version.pipeline_id,
                    version.id,
                    parameters,
                    "schedule",
                    interval=(start, end),
                    created=created,
                )
        except _LostRace:
            return None
        except sa.exc.IntegrityError:
            if self._batch is not None:
                raise  # the batch's transaction is spoilt: its caller starts again
            return None
        return RunRecord(
            run_id,
            version.pipeline_id,
            schedule.pipeline,
            version.id,
            RunStatus.QUEUED,
            parameters,
            "schedule",
            True,
            None,
            created,
            None,
            None,
            None,
            None,
            None,
            start,
            end,
            confined=True,
        )

    def get_run(self, run_id: str) -> RunRecord:
        run_id = run_id.strip().lower()  # ids are lower-case Crockford base32
        with self._connect() as conn:
            row = conn.execute(
                sa.select(*_RUN_COLUMNS)
                .join(t.pipelines, t.pipelines.c.id == t.runs.c.pipeline_id)
                .where(t.runs.c.id == run_id, t.runs.c.namespace == self.namespace)
            ).first()
            if row is None:
                # Let users pass a unique prefix of a run id, as with git hashes.
                rows = conn.execute(
                    sa.select(*_RUN_COLUMNS)
                    .join(t.pipelines, t.pipelines.c.id == t.runs.c.pipeline_id)
                    .where(
                        t.runs.c.id.startswith(run_id, autoescape=True),
                        t.runs.c.namespace == self.namespace,
                    )
                    .limit(2)
                ).all()
                if len(rows) > 1 and len(run_id) >= 4:
                    raise NotFound(
                        f"'{run_id}' is the start of several run ids",
                        hint="give more characters of the run id",
                    )
                row = rows[0] if len(rows) == 1 and len(run_id) >= 4 else None
        if row is None:
            raise NotFound(f"no run '{run_id}'", hint="list runs with 'headwater runs list'")
        return _run(row)

    def list_runs(
        self,
        *,
        pipeline: str | None = None,
        status: RunStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[RunRecord]:
        q = (
            sa.select(*_RUN_COLUMNS)
            .join(t.pipelines, t.pipelines.c.id == t.runs.c.pipeline_id)
            .where(t.runs.c.namespace == self.namespace)
        )
        if pipeline is not None:
            q = q.where(t.pipelines.c.name == pipeline)
        if status is not None:
            q = q.where(t.runs.c.status == status.value)
        q = q.order_by(t.runs.c.created_at.desc(), t.runs.c.id.desc()).limit(limit).offset(offset)
        with self._connect() as conn:
            return [_run(r) for r in conn.execute(q)]

    def set_run_status(
        self, run_id: str, current: RunStatus, target: RunStatus, *, error: str | None = None
    ) -> None:
        check_run(current, target)
        values: dict[str, Any] = {"status": target.value}
        ts = now()
        if target is RunStatus.RUNNING:
            values.update(started_at=ts, engine_host=os.uname().nodename, engine_pid=os.getpid())
            values["heartbeat_at"] = ts
        if target in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED):
            values["finished_at"] = ts
        if error is not None:
            values["error"] = error
        with self._begin() as conn:
            done = conn.execute(
                t.runs.update()
                .where(
                    t.runs.c.id == run_id,
                    t.runs.c.status == current.value,
                    t.runs.c.namespace == self.namespace,
                )
                .values(**values)
            ).rowcount
        if done != 1:
            raise NotFound(f"run '{run_id}' is not {current} any more")

    # ------------------------------------------------------------------ task attempts

    def add_task_run(
        self,
        run_id: str,
        path: str,
        task: str,
        component: str,
        attempt: int,
        status: TaskStatus,
        *,
        inputs: dict[str, Any] | None = None,
        outputs: dict[str, Any] | None = None,
        cache_key: str | None = None,
        cached_from: str | None = None,
        error: str | None = None,
        log_path: str | None = None,
        input_artifacts: Sequence[tuple[str, str]] = (),
        output_artifacts: Sequence[tuple[str, str]] = (),
        copy_metrics_from: str | None = None,
        pool: str | None = None,
        pool_slots: int | None = None,
        priority: int | None = None,
    ) -> TaskRunRecord:
        """A new attempt row, with lineage to the artifacts it reads (and, when cached,
        the artifacts it reuses as outputs)."""
        tid = new_id()
        ts = now()
        finished = (
            ts
            if status
            in (
                TaskStatus.CACHED,
                TaskStatus.SKIPPED,
                TaskStatus.UPSTREAM_FAILED,
                TaskStatus.SUCCEEDED,
                TaskStatus.FAILED,
                TaskStatus.CANCELLED,
            )
            else None
        )
        row = {
            "id": tid,
            "namespace": self.namespace,
            "run_id": run_id,
            "path": path,
            "task": task,
            "component": component,
            "attempt": attempt,
            "status": status.value,
            "inputs": inputs,
            "outputs": outputs,
            "cache_key": cache_key,
            "cached_from": cached_from,
            "error": error,
            "log_path": log_path,
            "pool": pool,
            "pool_slots": pool_slots,
            "priority": priority,
            "created_at": ts,
            "started_at": ts if finished or status is TaskStatus.RUNNING else None,
            "finished_at": finished,
        }
        with self._begin() as conn:
            conn.execute(t.task_runs.insert(), row)
            self._lineage(conn, tid, "input", input_artifacts, ts)
            self._lineage(conn, tid, "output", output_artifacts, ts)
            if copy_metrics_from is not None:
                # A cache hit reports the metrics its source attempt logged, as its own.
                m = t.metrics
                source = (
                    sa.select(
                        m.c.namespace,
                        sa.literal(run_id).label("run_id"),
                        sa.literal(tid).label("task_run_id"),
                        m.c.artifact_id,
                        m.c.key,
                        m.c.value,
                        m.c.step,
                        m.c.logged_at,
                    )
                    .where(m.c.task_run_id == copy_metrics_from)
                    .order_by(m.c.id)
                )
                conn.execute(
                    m.insert().from_select(
                        [
                            "namespace",
                            "run_id",
                            "task_run_id",
                            "artifact_id",
                            "key",
                            "value",
                            "step",
                            "logged_at",
                        ],
                        source,
                    )
                )
        return _task(row)

    def _lineage(
        self,
        conn: sa.Connection,
        task_run_id: str,
        direction: str,
        links: Iterable[tuple[str, str]],
        ts: datetime,
    ) -> None:
        rows = [
            {
                "namespace": self.namespace,
                "task_run_id": task_run_id,
                "artifact_id": artifact_id,
                "direction": direction,
                "input_name": name,
                "created_at": ts,
            }
            for name, artifact_id in links
        ]
        if rows:
            conn.execute(t.lineage_events.insert(), rows)

    def update_task_run(
        self, task_run_id: str, current: TaskStatus, target: TaskStatus, **values: Any
    ) -> None:
        """Move an attempt from ``current`` to ``target`` and set ``values`` with it."""
        if target is not current:
            check_task(current, target)
        elif current in TASK_DONE:
            raise IllegalTransition(
                f"task attempt is {current}; a finished attempt does not change"
            )
        values["status"] = target.value
        ts = now()
        if target is TaskStatus.RUNNING and current is not TaskStatus.RUNNING:
            values.setdefault("started_at", ts)
        if target not in (TaskStatus.PENDING, TaskStatus.QUEUED, TaskStatus.RUNNING):
            values.setdefault("finished_at", ts)
        params = {f"v_{k}": v for k, v in values.items()}
        params.update(_id=task_run_id, _current=current.value)
        with self._begin() as conn:
            done = conn.execute(_task_update(frozenset(values)), params).rowcount
        if done != 1:
            raise NotFound(f"task attempt '{task_run_id}' is not {current} any more")

    def finish_task_run(
        self,
        task: TaskRunRecord,
        target: TaskStatus,
        *,
        outputs: dict[str, Any] | None = None,
        artifacts: Sequence[NewArtifact] = (),
        metrics: Sequence[MetricPoint] = (),
        exit_code: int | None = None,
        error: str | None = None,
        retry_at: datetime | None = None,
        current: TaskStatus = TaskStatus.RUNNING,
    ) -> None:
        """End an attempt and record what it produced, all in one transaction."""
        check_task(current, target)
        ts = now()
        values = {
            "status": target.value,
            "outputs": outputs,
            "exit_code": exit_code,
            "error": error,
            "retry_at": retry_at,
            "finished_at": ts,
        }
        params = {f"v_{k}": v for k, v in values.items()}
        params.update(_id=task.id, _current=current.value)
        with self._begin() as conn:
            done = conn.execute(_task_update(frozenset(values)), params).rowcount
            if done != 1:
                raise NotFound(f"task attempt '{task.id}' is not {current} any more")
            if artifacts:
                conn.execute(
                    t.artifacts.insert(),
                    [
                        {
                            "id": a.id,
                            "namespace": self.namespace,
                            "run_id": task.run_id,
                            "task_run_id": task.id,
                            "name": a.name,
                            "type": a.type,
                            "uri": a.uri,
                            "digest": a.digest,
                            "size": a.size,
                            "metadata": a.metadata,
                            "created_at": ts,
                        }
                        for a in artifacts
                    ],
                )
                self._lineage(conn, task.id, "output", [(a.name, a.id) for a in artifacts], ts)
            if metrics:
                conn.execute(
                    t.metrics.insert(),
                    [
                        {
                            "namespace": self.namespace,
                            "run_id": task.run_id,
                            "task_run_id": task.id,
                            "artifact_id": m.artifact_id,
                            "key": m.key,
                            "value": m.value,
                            "step": m.step,
                            "logged_at": m.logged_at,
                        }
                        for m in metrics
                    ],
                )

    def task_runs(self, run_id: str) -> list[TaskRunRecord]:
        """Every attempt of every task of a run, oldest first."""
        with self._connect() as conn:
            rows = conn.execute(
                sa.select(t.task_runs)
                .where(t.task_runs.c.run_id == run_id, t.task_runs.c.namespace == self.namespace)
                .order_by(t.task_runs.c.created_at, t.task_runs.c.id)
            )
            return [_task(r) for r in rows]

    def task_runs_by_id(self, ids: Iterable[str]) -> dict[str, TaskRunRecord]:
        ids = list(ids)
        if not ids:
            return {}
        with self._connect() as conn:
            rows = conn.execute(
                sa.select(t.task_runs).where(
                    t.task_runs.c.id.in_(ids), t.task_runs.c.namespace == self.namespace
                )
            )
            return {r.id: _task(r) for r in rows}

    def get_task_run(self, task_run_id: str) -> TaskRunRecord:
        with self._connect() as conn:
            row = conn.execute(
                sa.select(t.task_runs).where(
                    t.task_runs.c.id == task_run_id, t.task_runs.c.namespace == self.namespace
                )
            ).first()
        if row is None:
            raise NotFound(f"no task attempt '{task_run_id}'")
        return _task(row)

    def find_cached(self, cache_key: str, ttl_seconds: float | None) -> TaskRunRecord | None:
        """The newest successful attempt with ``cache_key``, no older than the TTL."""
        q = (
            sa.select(t.task_runs)
            .where(
                t.task_runs.c.namespace == self.namespace,
                t.task_runs.c.cache_key == cache_key,
                t.task_runs.c.status == TaskStatus.SUCCEEDED.value,
            )
            .order_by(t.task_runs.c.finished_at.desc())
            .limit(5)
        )
        if ttl_seconds is not None:
            q = q.where(t.task_runs.c.finished_at >= now() - timedelta(seconds=ttl_seconds))
        with self._connect() as conn:
            row = conn.execute(q).first()
        return _task(row) if row is not None else None

    # ------------------------------------------------------------------ artifacts

    def add_artifact(self, artifact: NewArtifact, run_id: str | None = None) -> ArtifactRecord:
        """An artifact that no task produced (an imported file)."""
        ts = now()
        with self._begin() as conn:
            conn.execute(
                t.artifacts.insert().values(
                    id=artifact.id,
                    namespace=self.namespace,
                    run_id=run_id,
                    task_run_id=None,
                    name=artifact.name,
                    type=artifact.type,
                    uri=artifact.uri,
                    digest=artifact.digest,
                    size=artifact.size,
                    metadata=artifact.metadata,
                    created_at=ts,
                )
            )
        return self.get_artifact(artifact.id)

    def get_artifact(self, artifact_id: str) -> ArtifactRecord:
        artifact_id = artifact_id.strip().lower()
        mine = t.artifacts.c.namespace == self.namespace
        with self._connect() as conn:
            row = conn.execute(
                sa.select(t.artifacts).where(t.artifacts.c.id == artifact_id, mine)
            ).first()
            if row is None and len(artifact_id) >= 4:
                rows = conn.execute(
                    sa.select(t.artifacts)
                    .where(t.artifacts.c.id.startswith(artifact_id, autoescape=True), mine)
                    .limit(2)
                ).all()
                if len(rows) > 1:
                    raise NotFound(
                        f"'{artifact_id}' is the start of several artifact ids",
                        hint="give more characters of the artifact id",
                    )
                row = rows[0] if len(rows) == 1 else None
        if row is None:
            raise NotFound(
                f"no artifact '{artifact_id}'",
                hint="list a run's artifacts with 'headwater artifacts list RUN'",
            )
        return _artifact(row)

    def find_artifact_by_uri(self, uri: str) -> ArtifactRecord | None:
        with self._connect() as conn:
            row = conn.execute(
                sa.select(t.artifacts)
                .where(t.artifacts.c.namespace == self.namespace, t.artifacts.c.uri == uri)
                .order_by(t.artifacts.c.created_at.desc())
                .limit(1)
            ).first()
        return _artifact(row) if row is not None else None

    def artifacts_by_id(self, ids: Iterable[str]) -> dict[str, ArtifactRecord]:
        ids = list(ids)
        if not ids:
            return {}
        with self._connect() as conn:
            rows = conn.execute(
                sa.select(t.artifacts).where(
                    t.artifacts.c.id.in_(ids), t.artifacts.c.namespace == self.namespace
                )
            )
            return {r.id: _artifact(r) for r in rows}

    def run_artifacts(self, run_id: str) -> list[tuple[ArtifactRecord, TaskRunRecord | None, str]]:
        """Artifacts a run's tasks produced or reused (cached), with the task and output name."""
        q = (
            sa.select(
                t.artifacts,
                t.lineage_events.c.input_name,
                t.lineage_events.c.task_run_id.label("trid"),
            )
            .join(t.lineage_events, t.lineage_events.c.artifact_id == t.artifacts.c.id)
            .join(t.task_runs, t.task_runs.c.id == t.lineage_events.c.task_run_id)
            .where(t.task_runs.c.run_id == run_id, t.lineage_events.c.direction == "output")
            .order_by(t.lineage_events.c.id)
        )
        with self._connect() as conn:
            rows = conn.execute(q).all()
            tasks = {tr.id: tr for tr in self.task_runs(run_id)}
        return [
            (_artifact(r), tasks.get(r._mapping["trid"]), r._mapping["input_name"]) for r in rows
        ]

    def lineage(self, artifact_id: str, direction: str, max_depth: int = 50) -> list[LineageNode]:
        """Artifacts upstream (what ``artifact_id`` was made from) or downstream (what was
        made from it), breadth first, each with the task attempt that links it."""
        if direction not in ("upstream", "downstream"):
            raise ValueError(f"direction must be 'upstream' or 'downstream', not {direction!r}")
        start = self.get_artifact(artifact_id)
        seen = {start.id}
        frontier = [start.id]
        found: list[LineageNode] = []
        depth = 0
        le, tr = t.lineage_events, t.task_runs
        with self._connect() as conn:
            while frontier and depth < max_depth:
                depth += 1
                # upstream: producer task of each frontier artifact -> that task's inputs.
                # downstream: consumer tasks of each artifact -> their outputs.
                first, second = (
                    ("output", "input") if direction == "upstream" else ("input", "output")
                )
                links = sa.select(le.c.task_run_id).where(
                    le.c.artifact_id.in_(frontier), le.c.direction == first
                )
                rows = conn.execute(
                    sa.select(t.artifacts, le.c.task_run_id.label("via"))
                    .join(le, le.c.artifact_id == t.artifacts.c.id)
                    .where(le.c.task_run_id.in_(links), le.c.direction == second)
                ).all()
                next_frontier = []
                via_ids = {r._mapping["via"] for r in rows}
                via = (
                    {
                        r.id: _task(r)
                        for r in conn.execute(sa.select(tr).where(tr.c.id.in_(via_ids)))
                    }
                    if via_ids
                    else {}
                )
                makers = self._producers(conn, {r.id for r in rows})
                for r in rows:
                    art = _artifact(r)
                    if art.id in seen:
                        continue
                    seen.add(art.id)
                    next_frontier.append(art.id)
                    found.append(
                        LineageNode(art, via.get(r._mapping["via"]), depth, makers.get(art.id))
                    )
                frontier = next_frontier
        return found

    def _producers(self, conn: sa.Connection, ids: set[str]) -> dict[str, TaskRunRecord]:
        """The first attempt that output each artifact (cache hits reuse, not make)."""
        if not ids:
            return {}
        le, tr = t.lineage_events, t.task_runs
        rows = conn.execute(
            sa.select(tr, le.c.artifact_id.label("made"))
            .join(le, le.c.task_run_id == tr.c.id)
            .where(le.c.artifact_id.in_(ids), le.c.direction == "output")
            .order_by(tr.c.created_at.desc())
        ).all()
        return {r._mapping["made"]: _task(r) for r in rows}

    def producer(self, artifact_id: str) -> TaskRunRecord | None:
        with self._connect() as conn:
            row = conn.execute(
                sa.select(t.task_runs)
                .join(t.lineage_events, t.lineage_events.c.task_run_id == t.task_runs.c.id)
                .where(
                    t.lineage_events.c.artifact_id == artifact_id,
                    t.lineage_events.c.direction == "output",
                )
                .order_by(t.task_runs.c.created_at)
                .limit(1)
            ).first()
        return _task(row) if row is not None else None

    # ------------------------------------------------------------------ metrics

    def metrics(self, run_id: str) -> list[tuple[str, MetricPoint]]:
        """(task path, point) for every metric a run logged, in logging order."""
        with self._connect() as conn:
            rows = conn.execute(
                sa.select(t.metrics, t.task_runs.c.path)
                .join(t.task_runs, t.task_runs.c.id == t.metrics.c.task_run_id)
                .where(t.metrics.c.run_id == run_id, t.metrics.c.namespace == self.namespace)
                .order_by(t.metrics.c.id)
            ).all()
        return [
            (
                r._mapping["path"],
                MetricPoint(
                    r._mapping["key"],
                    r._mapping["value"],
                    r._mapping["step"],
                    r._mapping["logged_at"],
                    r._mapping["artifact_id"],
                ),
            )
            for r in rows
        ]
