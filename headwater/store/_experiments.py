"""Experiments: the runs of one experiment with their parameters and final metrics, read
in two queries whatever the number of runs, for comparing them side by side."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from headwater.store import _schema as t
from headwater.store._base import Database
from headwater.store._records import RUN_COLUMNS, RunRecord, run_record


@dataclass(frozen=True)
class ExperimentSummary:
    """An experiment: how many runs it has, of which pipelines, and when the last began."""

    name: str
    runs: int
    last_run_at: datetime
    pipelines: tuple[str, ...]


@dataclass(frozen=True)
class RunResult:
    """A run with the final value of each metric its tasks logged, by task path and key
    (the value logged last: the highest step of a step-wise metric)."""

    run: RunRecord
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)


class ExperimentStore:
    """Experiments of one namespace and their runs' results (``store.experiments``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def list_experiments(self, limit: int = 1000) -> list[ExperimentSummary]:
        """Experiments, the one with the newest run first."""
        r = t.runs.c
        counts = (
            sa.select(
                r.experiment,
                sa.func.count().label("runs"),
                sa.func.max(r.created_at).label("last"),
            )
            .where(r.namespace == self.db.namespace)
            .group_by(r.experiment)
            .order_by(sa.func.max(r.created_at).desc(), r.experiment)
            .limit(limit)
        )
        pairs = (
            sa.select(r.experiment, t.pipelines.c.name)
            .join(t.pipelines, t.pipelines.c.id == r.pipeline_id)
            .where(r.namespace == self.db.namespace)
            .distinct()
        )
        with self.db.connect() as conn:
            rows = conn.execute(counts).all()
            names: dict[str, list[str]] = {}
            for experiment, pipeline in conn.execute(pairs):
                names.setdefault(experiment, []).append(pipeline)
        return [
            ExperimentSummary(name, int(runs), last, tuple(sorted(names.get(name, []))))
            for name, runs, last in rows
        ]

    def results(
        self,
        *,
        experiment: str | None = None,
        run_ids: Sequence[str] | None = None,
    ) -> list[RunResult]:
        """The runs of ``experiment`` (or the runs ``run_ids``, in that order), newest
        first, each with its final metrics."""
        r, m = t.runs.c, t.metrics.c
        where: list[sa.ColumnElement[bool]] = [r.namespace == self.db.namespace]
        if experiment is not None:
            where.append(r.experiment == experiment)
        if run_ids is not None:
            where.append(r.id.in_(list(run_ids)))
        runs_q = (
            sa.select(*RUN_COLUMNS)
            .join(t.pipelines, t.pipelines.c.id == r.pipeline_id)
            .where(*where)
            .order_by(r.created_at.desc(), r.id.desc())
        )
        # The last point of each (run, attempt, key); of a task's attempts, the newest.
        chosen = sa.select(r.id).where(*where)
        last = (
            sa.select(sa.func.max(m.id))
            .where(m.run_id.in_(chosen), m.namespace == self.db.namespace)
            .group_by(m.run_id, m.task_run_id, m.key)
        )
        points = (
            sa.select(m.run_id, t.task_runs.c.path, t.task_runs.c.attempt, m.key, m.value)
            .join(t.task_runs, t.task_runs.c.id == m.task_run_id)
            .where(m.id.in_(last))
            .order_by(m.run_id, t.task_runs.c.attempt, m.id)
        )
        with self.db.connect() as conn:
            records = [run_record(row) for row in conn.execute(runs_q)]
            found: dict[str, dict[str, dict[str, float]]] = {}
            for run_id, path, _attempt, key, value in conn.execute(points):
                found.setdefault(run_id, {}).setdefault(path, {})[key] = value
        results = [RunResult(rec, found.get(rec.id, {})) for rec in records]
        if run_ids is not None:
            order = {rid: i for i, rid in enumerate(run_ids)}
            results.sort(key=lambda res: order[res.run.id])
        return results
