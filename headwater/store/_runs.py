"""Runs: creating them, reading them back, and moving their status."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from headwater.errors import NotFound
from headwater.states import RUN_ACTIVE, RunStatus
from headwater.store import _schema as t
from headwater.store import _transitions as moves
from headwater.store._base import Database, new_id, now
from headwater.store._records import (
    RUN_COLUMNS,
    RunRecord,
    VersionRecord,
    check_experiment,
    run_record,
)


class RunStore:
    """Runs of one namespace (``store.runs``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

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
        experiment: str | None = None,
    ) -> RunRecord:
        """A queued run of ``version``; ``interval`` is the data interval it covers, if any.

        The run belongs to ``experiment`` (by default, one named after its pipeline).

        ``owner`` is the engine that will drive it (the CLI's own), so that no scheduler
        claims it first; without one, a scheduler picks it up. A ``confined`` run (the
        default: what a server creates) reads only its namespace's URI roots; a run a user
        starts on their own machine is created with ``confined=False``.
        """
        rid = run_id or new_id()
        with self.db.begin() as conn:
            moves.insert_run(
                conn,
                self.db.namespace,
                rid,
                version.pipeline_id,
                version.id,
                parameters,
                trigger,
                experiment=check_experiment(experiment or version.pipeline),
                cache_enabled=cache_enabled,
                interval=interval,
                owner=owner,
                confined=confined,
            )
        return self.get_run(rid)

    def get_run(self, run_id: str) -> RunRecord:
        """A run by id, or by a unique prefix of 4 characters or more (as with git)."""
        run_id = run_id.strip().lower()  # ids are lower-case Crockford base32
        r = t.runs.c
        q = sa.select(*RUN_COLUMNS).join(t.pipelines, t.pipelines.c.id == r.pipeline_id)
        with self.db.connect() as conn:
            row = conn.execute(q.where(r.id == run_id, r.namespace == self.db.namespace)).first()
            if row is None:
                rows = conn.execute(
                    q.where(
                        r.id.startswith(run_id, autoescape=True), r.namespace == self.db.namespace
                    ).limit(2)
                ).all()
                if len(rows) > 1 and len(run_id) >= 4:
                    raise NotFound(
                        f"'{run_id}' is the start of several run ids",
                        hint="give more characters of the run id",
                    )
                row = rows[0] if len(rows) == 1 and len(run_id) >= 4 else None
        if row is None:
            raise NotFound(f"no run '{run_id}'", hint="list runs with 'headwater runs list'")
        return run_record(row)

    def list_runs(
        self,
        *,
        pipeline: str | None = None,
        status: RunStatus | None = None,
        limit: int = 50,
        offset: int = 0,
        experiment: str | None = None,
    ) -> list[RunRecord]:
        """The newest runs first, of one pipeline, state or experiment if asked."""
        q = (
            sa.select(*RUN_COLUMNS)
            .join(t.pipelines, t.pipelines.c.id == t.runs.c.pipeline_id)
            .where(t.runs.c.namespace == self.db.namespace)
        )
        if pipeline is not None:
            q = q.where(t.pipelines.c.name == pipeline)
        if status is not None:
            q = q.where(t.runs.c.status == status.value)
        if experiment is not None:
            q = q.where(t.runs.c.experiment == experiment)
        q = q.order_by(t.runs.c.created_at.desc(), t.runs.c.id.desc()).limit(limit).offset(offset)
        with self.db.connect() as conn:
            return [run_record(r) for r in conn.execute(q)]

    def set_run_status(
        self,
        run_id: str,
        current: RunStatus,
        target: RunStatus,
        *,
        error: str | None = None,
        outputs: dict[str, Any] | None = None,
    ) -> None:
        """Move a run from ``current`` to ``target`` (with the pipeline's ``outputs`` when
        it succeeded); NotFound if it is not ``current``."""
        values: dict[str, Any] = {} if error is None else {"error": error}
        if outputs is not None:
            values["outputs"] = outputs
        with self.db.begin() as conn:
            moved = moves.move_run(conn, self.db.namespace, run_id, current, target, **values)
        if not moved:
            raise NotFound(f"run '{run_id}' is not {current} any more")

    def mark_deadline_missed(self, run_id: str) -> bool:
        """Record that the run passed its deadline; True the first time only."""
        with self.db.begin() as conn:
            return bool(
                conn.execute(
                    t.runs.update()
                    .where(t.runs.c.id == run_id, t.runs.c.deadline_missed_at.is_(None))
                    .values(deadline_missed_at=now())
                ).rowcount
            )

    def active_runs(self, pipeline_id: str) -> int:
        """Runs of a pipeline that are queued or running."""
        r = t.runs.c
        with self.db.connect() as conn:
            count = conn.execute(
                sa.select(sa.func.count()).where(
                    r.pipeline_id == pipeline_id,
                    r.namespace == self.db.namespace,
                    r.status.in_([s.value for s in RUN_ACTIVE]),
                )
            ).scalar()
        return int(count or 0)

    def active_runs_of(self, pipeline_ids: Iterable[str]) -> dict[str, int]:
        """:meth:`active_runs` of several pipelines in one query (0 for those with none)."""
        wanted = list(set(pipeline_ids))
        if not wanted:
            return {}
        r = t.runs.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(r.pipeline_id, sa.func.count())
                .where(
                    r.pipeline_id.in_(wanted),
                    r.namespace == self.db.namespace,
                    r.status.in_([s.value for s in RUN_ACTIVE]),
                )
                .group_by(r.pipeline_id)
            ).all()
        found = dict.fromkeys(wanted, 0)
        found.update({pid: int(count) for pid, count in rows})
        return found

    def runs_by_interval(self, pipeline_id: str) -> dict[datetime, list[RunRecord]]:
        """A pipeline's runs that cover a data interval, by interval start, oldest first."""
        r = t.runs.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(*RUN_COLUMNS)
                .join(t.pipelines, t.pipelines.c.id == r.pipeline_id)
                .where(
                    r.pipeline_id == pipeline_id,
                    r.namespace == self.db.namespace,
                    r.data_interval_start.is_not(None),
                )
                .order_by(r.created_at, r.id)
            ).all()
        found: dict[datetime, list[RunRecord]] = {}
        for row in rows:
            run = run_record(row)
            assert run.data_interval_start is not None
            found.setdefault(run.data_interval_start, []).append(run)
        return found
