"""Experiments: the runs of one experiment with their parameters and final metrics, read
in two queries whatever the number of runs, for comparing them side by side."""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa

from headwater.errors import NotFound
from headwater.store import _schema as t
from headwater.store._base import Database
from headwater.store._compare import Comparison, compare
from headwater.store._records import ExperimentSummary, RunResult, check_experiment
from headwater.store._runs import RunStore


class ExperimentStore:
    """Experiments of one namespace and their runs' results (``store.experiments``)."""

    def __init__(self, db: Database, runs: RunStore) -> None:
        self.db = db
        self._runs = runs

    def compare(
        self,
        *,
        experiment: str | None = None,
        runs: Sequence[str] | None = None,
        where: Sequence[str] = (),
        sort: str | None = None,
        descending: bool = False,
        best: str | None = None,
        direction: str = "maximize",
    ) -> Comparison:
        """Runs side by side (see :mod:`headwater.store._compare`): those of
        ``experiment``, newest first, or ``runs`` in the order given; only those matching
        every ``where`` condition (``"accuracy>0.9"``); ordered by ``sort``; or only the
        run with the best ``best`` metric in ``direction``."""
        if runs is not None:
            ids = [self._runs.get_run(rid).id for rid in runs]  # prefixes; unknown: NotFound
            results = self.results(run_ids=list(dict.fromkeys(ids)))
        else:
            name = check_experiment(experiment or "")
            results = self.results(experiment=name)
            if not results:
                raise NotFound(
                    f"no experiment '{name}': no run belongs to it",
                    hint="list experiments with 'headwater experiments list'",
                )
        return compare(
            results,
            where=where,
            sort=sort,
            descending=descending,
            best=best,
            direction=direction,
        )

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
        # Times and parameters are read raw and decoded here: on 10,000 runs the types'
        # per-value processing costs more than the query.
        runs_q = (
            sa.select(
                r.id,
                t.pipelines.c.name,
                r.experiment,
                r.status,
                sa.type_coerce(r.created_at, sa.String),
                sa.cast(r.parameters, sa.Text),
            )
            .join(t.pipelines, t.pipelines.c.id == r.pipeline_id)
            .where(*where)
            .order_by(r.created_at.desc(), r.id.desc())
        )
        # The final point of each (run, attempt, key); of a task's attempts, the newest.
        chosen = sa.select(r.id).where(*where)
        points = (
            sa.select(m.run_id, t.task_runs.c.path, m.key, m.value)
            .join(t.task_runs, t.task_runs.c.id == m.task_run_id)
            .where(m.run_id.in_(chosen), m.final, m.namespace == self.db.namespace)
            .order_by(m.run_id, t.task_runs.c.attempt, m.id)
        )
        with self.db.connect() as conn:
            rows = conn.execute(runs_q).all()
            found: dict[str, dict[str, dict[str, float]]] = {}
            for run_id, path, key, value in conn.execute(points):
                found.setdefault(run_id, {}).setdefault(path, {})[key] = value
        results = [
            RunResult(
                rid,
                pipeline,
                xp,
                status,
                t.as_utc(created),
                (json.loads(params) if params else None) or {},
                found.get(rid, {}),
            )
            for rid, pipeline, xp, status, created, params in rows
        ]
        if run_ids is not None:
            order = {rid: i for i, rid in enumerate(run_ids)}
            results.sort(key=lambda res: order[res.id])
        return results
