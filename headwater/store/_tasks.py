"""Task attempts: one row per attempt, written with the lineage of what it read and
produced; and the cache lookup that lets an attempt reuse an earlier one's outputs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from headwater.errors import IllegalTransition, NotFound
from headwater.states import ATTEMPT_DONE, TaskStatus
from headwater.store import _schema as t
from headwater.store import _transitions as moves
from headwater.store._base import Database, new_id, now
from headwater.store._lineage import LineageStore
from headwater.store._records import MetricPoint, NewArtifact, TaskRunRecord, task_record


class TaskStore:
    """Task attempts of one namespace (``store.tasks``); what they read and produced is
    recorded through ``lineage``, in the same transaction."""

    def __init__(self, db: Database, lineage: LineageStore) -> None:
        self.db = db
        self.lineage = lineage

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
        wake_at: datetime | None = None,
    ) -> TaskRunRecord:
        """A new attempt row in ``status`` (a move out of ``pending``, so checked against
        the state machine), with lineage to the artifacts it reads (and, when cached, the
        artifacts it reuses as outputs). A sensor's attempt born ``deferred`` is first
        checked at ``wake_at``."""
        tid = new_id()
        ts = now()
        row = {
            "id": tid,
            "namespace": self.db.namespace,
            "run_id": run_id,
            "path": path,
            "task": task,
            "component": component,
            "attempt": attempt,
            "status": status,
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
        }
        if status is TaskStatus.DEFERRED:
            row.update(deferred_at=ts, wake_at=wake_at or ts, pokes=0)
        with self.db.begin() as conn:
            row = moves.insert_attempt(conn, row)
            self.lineage.write_links(conn, tid, "input", input_artifacts, ts)
            self.lineage.write_links(conn, tid, "output", output_artifacts, ts)
            if copy_metrics_from is not None:
                self.lineage.write_copied_metrics(conn, run_id, tid, copy_metrics_from)
        return task_record(row)

    def update_task_run(
        self, task_run_id: str, current: TaskStatus, target: TaskStatus, **values: Any
    ) -> None:
        """Move an attempt from ``current`` to ``target`` and set ``values`` with it
        (``target`` may be ``current`` while the attempt has not ended)."""
        with self.db.begin() as conn:
            moved = moves.move_attempt(
                conn, self.db.namespace, task_run_id, current, target, values
            )
        if not moved:
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
        started: Mapping[str, Any] | None = None,
    ) -> None:
        """End an attempt and record what it produced, all in one transaction.

        ``started``: the attempt's start was not recorded yet (it ended before the engine
        committed it); it is recorded by the same statement, with these values (``pid``,
        ``node``, ``started_at``), as a move from ``current`` through ``running``."""
        if target not in ATTEMPT_DONE:
            raise IllegalTransition(f"task attempt cannot finish as {target}; that is no end")
        ts = now()
        values = {
            "outputs": outputs,
            "exit_code": exit_code,
            "error": error,
            "retry_at": retry_at,
            "finished_at": ts,
        }
        via = None
        if started is not None:
            values.update(started)
            via = TaskStatus.RUNNING
        with self.db.begin() as conn:
            if not moves.move_attempt(
                conn, self.db.namespace, task.id, current, target, values, via=via
            ):
                raise NotFound(f"task attempt '{task.id}' is not {current} any more")
            self.lineage.write_outputs(conn, task, artifacts, metrics, ts)

    def defer_task_run(
        self,
        task: TaskRunRecord,
        *,
        wake_at: datetime,
        pokes: int,
        current: TaskStatus = TaskStatus.RUNNING,
        started: Mapping[str, Any] | None = None,
    ) -> None:
        """A sensor's poke found its condition false: the attempt waits ``deferred`` until
        ``wake_at`` (its wait began at its first deferral). ``started`` as for
        :meth:`finish_task_run`."""
        values: dict[str, Any] = {"wake_at": wake_at, "pokes": pokes, "pid": None}
        if task.deferred_at is None:
            values["deferred_at"] = now()
        via = None
        if started is not None:
            values.update({k: v for k, v in started.items() if k != "pid"})
            via = TaskStatus.RUNNING
        with self.db.begin() as conn:
            if not moves.move_attempt(
                conn, self.db.namespace, task.id, current, TaskStatus.DEFERRED, values, via=via
            ):
                raise NotFound(f"task attempt '{task.id}' is not {current} any more")

    def task_runs(self, run_id: str) -> list[TaskRunRecord]:
        """Every attempt of every task of a run, oldest first."""
        tr = t.task_runs.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(t.task_runs)
                .where(tr.run_id == run_id, tr.namespace == self.db.namespace)
                .order_by(tr.created_at, tr.id)
            )
            return [task_record(r) for r in rows]

    def task_runs_by_id(self, ids: Iterable[str]) -> dict[str, TaskRunRecord]:
        ids = list(ids)
        if not ids:
            return {}
        tr = t.task_runs.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(t.task_runs).where(tr.id.in_(ids), tr.namespace == self.db.namespace)
            )
            return {r.id: task_record(r) for r in rows}

    def get_task_run(self, task_run_id: str) -> TaskRunRecord:
        tr = t.task_runs.c
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(t.task_runs).where(
                    tr.id == task_run_id, tr.namespace == self.db.namespace
                )
            ).first()
        if row is None:
            raise NotFound(f"no task attempt '{task_run_id}'")
        return task_record(row)

    def find_cached(self, cache_key: str, ttl_seconds: float | None) -> TaskRunRecord | None:
        """The newest successful attempt with ``cache_key``, no older than the TTL."""
        tr = t.task_runs.c
        q = (
            sa.select(t.task_runs)
            .where(
                tr.namespace == self.db.namespace,
                tr.cache_key == cache_key,
                tr.status == TaskStatus.SUCCEEDED.value,
            )
            .order_by(tr.finished_at.desc())
            .limit(5)
        )
        if ttl_seconds is not None:
            q = q.where(tr.finished_at >= now() - timedelta(seconds=ttl_seconds))
        with self.db.connect() as conn:
            row = conn.execute(q).first()
        return task_record(row) if row is not None else None
