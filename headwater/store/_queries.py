"""Pages of runs, artifacts and pipelines with filters and totals, for the API and UI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from headwater.store import _schema as t
from headwater.store._base import Database, aware
from headwater.store._records import (
    RUN_COLUMNS,
    ArtifactRecord,
    RunRecord,
    artifact_record,
    run_record,
)


@dataclass(frozen=True)
class RunFilter:
    pipeline: str | None = None
    status: str | None = None
    trigger: str | None = None
    version_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    pipelines: tuple[str, ...] | None = None  # any of these pipelines (a tag's, say)
    experiment: str | None = None


@dataclass(frozen=True)
class PipelineSummary:
    id: str
    name: str
    description: str | None
    versions: int
    latest_version_id: str
    latest_spec: dict[str, Any]
    updated_at: datetime
    created_at: datetime


class QueryStore:
    """Pages and summaries for the API and UI, in one namespace (``store.queries``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def page_runs(self, f: RunFilter, limit: int, offset: int) -> tuple[list[RunRecord], int]:
        """Runs newest first that match ``f``, and how many match in all."""
        r = t.runs.c
        where: list[Any] = [r.namespace == self.db.namespace]
        if f.pipeline is not None:
            where.append(t.pipelines.c.name == f.pipeline)
        if f.pipelines is not None:
            where.append(t.pipelines.c.name.in_(f.pipelines))
        if f.status is not None:
            where.append(r.status == f.status)
        if f.trigger is not None:
            where.append(
                r.trigger.startswith("backfill")
                if f.trigger == "backfill"
                else r.trigger == f.trigger
            )
        if f.version_id is not None:
            where.append(r.version_id == f.version_id)
        if f.experiment is not None:
            where.append(r.experiment == f.experiment)
        if f.created_after is not None:
            where.append(r.created_at >= f.created_after)
        if f.created_before is not None:
            where.append(r.created_at < f.created_before)
        joined = t.runs.join(t.pipelines, t.pipelines.c.id == r.pipeline_id)
        q = (
            sa.select(*RUN_COLUMNS)
            .select_from(joined)
            .where(*where)
            .order_by(r.created_at.desc(), r.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self.db.connect() as conn:
            rows = [run_record(x) for x in conn.execute(q)]
            if offset == 0 and len(rows) < limit:
                total = len(rows)
            else:
                # Every run has its pipeline (a foreign key): join only to filter by name.
                by_name = f.pipeline is not None or f.pipelines is not None
                source = joined if by_name else t.runs
                count = sa.select(sa.func.count()).select_from(source).where(*where)
                total = int(conn.execute(count).scalar() or 0)
        return rows, total

    def page_artifacts(
        self,
        *,
        run_id: str | None,
        type_: str | None,
        name: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list[ArtifactRecord], int]:
        a = t.artifacts.c
        where: list[Any] = [a.namespace == self.db.namespace]
        if run_id is not None:
            where.append(a.run_id == run_id)
        if type_ is not None:
            where.append(a.type == type_)
        if name is not None:
            where.append(a.name == name)
        q = (
            sa.select(t.artifacts)
            .where(*where)
            .order_by(a.created_at.desc(), a.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self.db.connect() as conn:
            rows = [artifact_record(x) for x in conn.execute(q)]
            total = int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(t.artifacts).where(*where)
                ).scalar()
                or 0
            )
        return rows, total

    def page_pipelines(
        self, *, prefix: str | None, limit: int, offset: int
    ) -> tuple[list[PipelineSummary], int]:
        p, v = t.pipelines.c, t.pipeline_versions.c
        stats = (
            sa.select(
                v.pipeline_id,
                sa.func.count(v.id).label("versions"),
                sa.func.max(v.created_at).label("updated"),
            )
            .group_by(v.pipeline_id)
            .subquery()
        )
        where: list[Any] = [p.namespace == self.db.namespace]
        if prefix:
            where.append(p.name.startswith(prefix, autoescape=True))
        q = (
            sa.select(t.pipelines, stats.c.versions, stats.c.updated)
            .join(stats, stats.c.pipeline_id == p.id)
            .where(*where)
            .order_by(p.name)
            .limit(limit)
            .offset(offset)
        )
        with self.db.connect() as conn:
            rows = conn.execute(q).all()
            total = int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(t.pipelines.join(stats, stats.c.pipeline_id == p.id))
                    .where(*where)
                ).scalar()
                or 0
            )
            found = []
            for row in rows:
                latest = conn.execute(
                    sa.select(v.id, v.spec)
                    .where(v.pipeline_id == row.id)
                    .order_by(v.created_at.desc(), v.id.desc())
                    .limit(1)
                ).first()
                assert latest is not None
                found.append(
                    PipelineSummary(
                        row.id,
                        row.name,
                        row.description,
                        int(row.versions),
                        latest.id,
                        latest.spec,
                        aware(row.updated),
                        row.created_at,
                    )
                )
        return found, total

    def pipelines_tagged(self, tag: str) -> tuple[str, ...]:
        """Names of the pipelines whose newest version has ``tag``."""
        p, v = t.pipelines.c, t.pipeline_versions.c
        newest = (
            sa.select(v.pipeline_id, sa.func.max(v.created_at).label("at"))
            .group_by(v.pipeline_id)
            .subquery()
        )
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(p.name, v.spec)
                .join(t.pipeline_versions, v.pipeline_id == p.id)
                .join(newest, sa.and_(newest.c.pipeline_id == p.id, newest.c.at == v.created_at))
                .where(p.namespace == self.db.namespace)
            ).all()
        return tuple(sorted({name for name, spec in rows if tag in (spec or {}).get("tags", [])}))

    def recent_run_states(self, pipeline_ids: list[str], per: int) -> dict[str, list[RunRecord]]:
        """The newest ``per`` runs of each pipeline (for the coloured squares of a list)."""
        found: dict[str, list[RunRecord]] = {pid: [] for pid in pipeline_ids}
        if not pipeline_ids:
            return found
        r = t.runs.c
        ranked = (
            sa.select(
                r.id,
                sa.func.row_number()
                .over(partition_by=r.pipeline_id, order_by=(r.created_at.desc(), r.id.desc()))
                .label("n"),
            )
            .where(r.pipeline_id.in_(pipeline_ids))
            .subquery()
        )
        q = (
            sa.select(*RUN_COLUMNS)
            .join(t.pipelines, t.pipelines.c.id == r.pipeline_id)
            .join(ranked, ranked.c.id == r.id)
            .where(ranked.c.n <= per)
            .order_by(r.created_at.desc())
        )
        with self.db.connect() as conn:
            for x in conn.execute(q):
                run = run_record(x)
                found[run.pipeline_id].append(run)
        return found

    def task_states(self, run_ids: list[str]) -> dict[str, dict[str, str]]:
        """Per run, each task path's latest (not cleared) attempt's status."""
        if not run_ids:
            return {}
        tr = t.task_runs.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(tr.run_id, tr.path, tr.attempt, tr.status)
                .where(tr.run_id.in_(run_ids), tr.cleared_at.is_(None))
                .order_by(tr.created_at, tr.id)
            ).all()
        return _latest_states([tuple(r) for r in rows])

    def metric_series(self, run_id: str) -> list[tuple[str, str, list[int | None], list[float]]]:
        """A run's metrics as series, (task path, key, steps, values) in logging order: the
        shape charts want, without an object per point."""
        m, tr = t.metrics.c, t.task_runs.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(tr.path, m.key, m.step, m.value)
                .join(t.task_runs, tr.id == m.task_run_id)
                .where(m.run_id == run_id, m.namespace == self.db.namespace)
                .order_by(m.id)
            ).all()
        series: dict[tuple[str, str], tuple[list[int | None], list[float]]] = {}
        for path, key, step, value in rows:
            steps, values = series.setdefault((path, key), ([], []))
            steps.append(step)
            values.append(value)
        return [(path, key, s, v) for (path, key), (s, v) in series.items()]

    def counts_by_status(self) -> tuple[dict[str, int], dict[str, int]]:
        """The namespace's runs and task attempts by status (for Prometheus)."""
        r, tr = t.runs.c, t.task_runs.c
        with self.db.connect() as conn:
            runs: dict[str, int] = dict(
                conn.execute(
                    sa.select(r.status, sa.func.count())
                    .where(r.namespace == self.db.namespace)
                    .group_by(r.status)
                ).all()
            )
            tasks: dict[str, int] = dict(
                conn.execute(
                    sa.select(tr.status, sa.func.count())
                    .where(tr.namespace == self.db.namespace)
                    .group_by(tr.status)
                ).all()
            )
        return {k: int(v) for k, v in runs.items()}, {k: int(v) for k, v in tasks.items()}


def _latest_states(rows: list[Any]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, tuple[int, str]]] = {}
    for run_id, path, attempt, status in rows:
        per = found.setdefault(run_id, {})
        if path not in per or attempt > per[path][0]:
            per[path] = (attempt, status)
    return {rid: {p: s for p, (_, s) in per.items()} for rid, per in found.items()}
