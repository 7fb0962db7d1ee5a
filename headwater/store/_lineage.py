"""Artifacts, the lineage events that tie them to the attempts that made and read them,
and the metrics that attempts logged."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa

from headwater.errors import NotFound
from headwater.store import _schema as t
from headwater.store._base import Database, now
from headwater.store._records import (
    ArtifactRecord,
    LineageNode,
    MetricPoint,
    NewArtifact,
    TaskRunRecord,
    artifact_record,
    task_record,
)

_METRIC_COLUMNS = [
    "namespace",
    "run_id",
    "task_run_id",
    "artifact_id",
    "key",
    "value",
    "step",
    "logged_at",
    "final",
]


class LineageStore:
    """Artifacts, lineage and metrics of one namespace (``store.lineage``).

    The ``write_*`` methods work inside a caller's transaction: the task store records
    what an attempt read and produced in the transaction that moves the attempt.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ writing

    def write_links(
        self,
        conn: sa.Connection,
        task_run_id: str,
        direction: str,
        links: Iterable[tuple[str, str]],
        ts: datetime,
    ) -> None:
        """Lineage events: ``task_run_id`` read (``input``) or made (``output``) each
        (name, artifact id) of ``links``."""
        rows = [
            {
                "namespace": self.db.namespace,
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

    def write_outputs(
        self,
        conn: sa.Connection,
        task: TaskRunRecord,
        artifacts: Sequence[NewArtifact],
        metrics: Sequence[MetricPoint],
        ts: datetime,
    ) -> None:
        """The artifacts ``task`` produced (with their lineage) and the metrics it logged."""
        ns = self.db.namespace
        if artifacts:
            conn.execute(
                t.artifacts.insert(),
                [
                    {
                        "id": a.id,
                        "namespace": ns,
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
            self.write_links(conn, task.id, "output", [(a.name, a.id) for a in artifacts], ts)
        if metrics:
            last = {m.key: i for i, m in enumerate(metrics)}
            conn.execute(
                t.metrics.insert(),
                [
                    {
                        "namespace": ns,
                        "run_id": task.run_id,
                        "task_run_id": task.id,
                        "artifact_id": m.artifact_id,
                        "key": m.key,
                        "value": m.value,
                        "step": m.step,
                        "logged_at": m.logged_at,
                        "final": True if last[m.key] == i else None,
                    }
                    for i, m in enumerate(metrics)
                ],
            )

    def write_copied_metrics(
        self, conn: sa.Connection, run_id: str, task_run_id: str, source: str
    ) -> None:
        """Log the metrics attempt ``source`` logged again, as ``task_run_id``'s (a cache
        hit reports its source's metrics as its own)."""
        m = t.metrics
        rows = (
            sa.select(
                m.c.namespace,
                sa.literal(run_id).label("run_id"),
                sa.literal(task_run_id).label("task_run_id"),
                m.c.artifact_id,
                m.c.key,
                m.c.value,
                m.c.step,
                m.c.logged_at,
                m.c.final,
            )
            .where(m.c.task_run_id == source)
            .order_by(m.c.id)
        )
        conn.execute(m.insert().from_select(_METRIC_COLUMNS, rows))

    def add_artifact(self, artifact: NewArtifact, run_id: str | None = None) -> ArtifactRecord:
        """An artifact that no task produced (an imported file)."""
        with self.db.begin() as conn:
            conn.execute(
                t.artifacts.insert().values(
                    id=artifact.id,
                    namespace=self.db.namespace,
                    run_id=run_id,
                    task_run_id=None,
                    name=artifact.name,
                    type=artifact.type,
                    uri=artifact.uri,
                    digest=artifact.digest,
                    size=artifact.size,
                    metadata=artifact.metadata,
                    created_at=now(),
                )
            )
        return self.get_artifact(artifact.id)

    # ------------------------------------------------------------------ artifacts

    def get_artifact(self, artifact_id: str) -> ArtifactRecord:
        """An artifact by id, or by a unique prefix of 4 characters or more."""
        artifact_id = artifact_id.strip().lower()
        a = t.artifacts.c
        mine = a.namespace == self.db.namespace
        with self.db.connect() as conn:
            row = conn.execute(sa.select(t.artifacts).where(a.id == artifact_id, mine)).first()
            if row is None and len(artifact_id) >= 4:
                rows = conn.execute(
                    sa.select(t.artifacts)
                    .where(a.id.startswith(artifact_id, autoescape=True), mine)
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
        return artifact_record(row)

    def find_artifact_by_uri(self, uri: str) -> ArtifactRecord | None:
        a = t.artifacts.c
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(t.artifacts)
                .where(a.namespace == self.db.namespace, a.uri == uri)
                .order_by(a.created_at.desc())
                .limit(1)
            ).first()
        return artifact_record(row) if row is not None else None

    def artifacts_by_id(self, ids: Iterable[str]) -> dict[str, ArtifactRecord]:
        ids = list(ids)
        if not ids:
            return {}
        a = t.artifacts.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(t.artifacts).where(a.id.in_(ids), a.namespace == self.db.namespace)
            )
            return {r.id: artifact_record(r) for r in rows}

    def run_artifacts(self, run_id: str) -> list[tuple[ArtifactRecord, TaskRunRecord | None, str]]:
        """Artifacts a run's tasks produced or reused (cached), with the task and output name."""
        le, tr = t.lineage_events, t.task_runs
        q = (
            sa.select(t.artifacts, le.c.input_name, le.c.task_run_id.label("trid"))
            .join(le, le.c.artifact_id == t.artifacts.c.id)
            .join(tr, tr.c.id == le.c.task_run_id)
            .where(tr.c.run_id == run_id, le.c.direction == "output")
            .order_by(le.c.id)
        )
        with self.db.connect() as conn:
            rows = conn.execute(q).all()
            tasks = {
                r.id: task_record(r)
                for r in conn.execute(
                    sa.select(tr).where(tr.c.run_id == run_id, tr.c.namespace == self.db.namespace)
                )
            }
        return [
            (artifact_record(r), tasks.get(r._mapping["trid"]), r._mapping["input_name"])
            for r in rows
        ]

    # ------------------------------------------------------------------ lineage

    def walk(self, artifact_id: str, direction: str, max_depth: int = 50) -> list[LineageNode]:
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
        # upstream: producer task of each frontier artifact -> that task's inputs.
        # downstream: consumer tasks of each artifact -> their outputs.
        first, second = ("output", "input") if direction == "upstream" else ("input", "output")
        with self.db.connect() as conn:
            while frontier and depth < max_depth:
                depth += 1
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
                        r.id: task_record(r)
                        for r in conn.execute(sa.select(tr).where(tr.c.id.in_(via_ids)))
                    }
                    if via_ids
                    else {}
                )
                makers = self._producers(conn, {r.id for r in rows})
                for r in rows:
                    art = artifact_record(r)
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
        return {r._mapping["made"]: task_record(r) for r in rows}

    def producer(self, artifact_id: str) -> TaskRunRecord | None:
        le = t.lineage_events.c
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(t.task_runs)
                .join(t.lineage_events, le.task_run_id == t.task_runs.c.id)
                .where(le.artifact_id == artifact_id, le.direction == "output")
                .order_by(t.task_runs.c.created_at)
                .limit(1)
            ).first()
        return task_record(row) if row is not None else None

    # ------------------------------------------------------------------ metrics

    def metrics(self, run_id: str) -> list[tuple[str, MetricPoint]]:
        """(task path, point) for every metric a run logged, in logging order."""
        m = t.metrics.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(t.metrics, t.task_runs.c.path)
                .join(t.task_runs, t.task_runs.c.id == m.task_run_id)
                .where(m.run_id == run_id, m.namespace == self.db.namespace)
                .order_by(m.id)
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
