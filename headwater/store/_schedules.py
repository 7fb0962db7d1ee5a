"""Schedules: the deployed version a pipeline's timetable runs, how far it has got, and
the run of each interval, created with the schedule's move past it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from headwater.errors import NotFound
from headwater.states import RunStatus
from headwater.store import _schema as t
from headwater.store import _transitions as moves
from headwater.store._base import Database, now
from headwater.store._records import (
    RunRecord,
    ScheduleRecord,
    VersionRecord,
    schedule_record,
    split_templates,
)

_SCHED = t.schedules.c
# Statements built once and run with parameters: a scheduler pass creates many runs.
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


_MICROSECOND = timedelta(microseconds=1)


class _LostRace(Exception):
    """Another scheduler moved the schedule first."""


class ScheduleRaceLost(Exception):
    """Another scheduler moved one of the schedules of :meth:`ScheduleStore.create_scheduled_runs`
    first: nothing was written (the caller's transaction must be rolled back)."""


@dataclass(frozen=True)
class DueRun:
    """One run :meth:`ScheduleStore.create_scheduled_runs` is to create."""

    run_id: str
    parameters: dict[str, Any]
    start: datetime
    end: datetime


def _scheduled_run(
    schedule: ScheduleRecord, version: VersionRecord, due: DueRun, created: datetime
) -> RunRecord:
    params, templates = split_templates(due.parameters)
    return RunRecord(
        due.run_id,
        version.pipeline_id,
        schedule.pipeline,
        version.id,
        RunStatus.QUEUED,
        params,
        "schedule",
        True,
        None,
        created,
        None,
        None,
        None,
        None,
        None,
        due.start,
        due.end,
        confined=True,
        templates=templates,
    )


class ScheduleStore:
    """Schedules of one namespace (``store.schedules``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def upsert_schedule(self, version: VersionRecord) -> ScheduleRecord:
        """Schedule ``version`` (a new deploy moves an existing schedule to it, keeping its
        pause state and the intervals it already covered)."""
        ts = now()
        s = t.schedules
        with self.db.begin() as conn:
            done = conn.execute(
                s.update()
                .where(s.c.pipeline_id == version.pipeline_id, s.c.namespace == self.db.namespace)
                .values(version_id=version.id, updated_at=ts)
            ).rowcount
            if not done:
                conn.execute(
                    s.insert().values(
                        pipeline_id=version.pipeline_id,
                        namespace=self.db.namespace,
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

    def get_schedule(self, pipeline: str) -> ScheduleRecord:
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(t.schedules, t.pipelines.c.name.label("pipeline"))
                .join(t.pipelines, t.pipelines.c.id == _SCHED.pipeline_id)
                .where(_SCHED.namespace == self.db.namespace, t.pipelines.c.name == pipeline)
            ).first()
        if row is not None:
            return schedule_record(row)
        raise NotFound(
            f"pipeline '{pipeline}' has no schedule",
            hint="deploy a pipeline that has @pipeline(schedule=...) with 'headwater deploy'",
        )

    def set_paused(self, pipeline: str, paused: bool) -> ScheduleRecord:
        schedule = self.get_schedule(pipeline)
        with self.db.begin() as conn:
            conn.execute(
                t.schedules.update()
                .where(_SCHED.pipeline_id == schedule.pipeline_id)
                .values(paused=paused, updated_at=now())
            )
        return self.get_schedule(pipeline)

    def set_schedule_overrides(self, pipeline: str, overrides: dict[str, Any]) -> ScheduleRecord:
        """Replace a schedule's edited settings (``{}`` returns it to the deployed spec's)."""
        schedule = self.get_schedule(pipeline)
        with self.db.begin() as conn:
            conn.execute(
                t.schedules.update()
                .where(_SCHED.pipeline_id == schedule.pipeline_id)
                .values(overrides=overrides or None, updated_at=now())
            )
        return self.get_schedule(pipeline)

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
            with self.db.begin() as conn:
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
                moves.insert_run(
                    conn,
                    self.db.namespace,
                    run_id,
                    version.pipeline_id,
                    version.id,
                    parameters,
                    "schedule",
                    experiment=version.pipeline,
                    interval=(start, end),
                    created=created,
                )
        except _LostRace:
            return None
        except sa.exc.IntegrityError:
            if self.db.in_batch:
                raise  # the batch's transaction is spoilt: its caller starts again
            return None
        return _scheduled_run(schedule, version, DueRun(run_id, parameters, start, end), created)

    def create_scheduled_runs(
        self, due: Sequence[tuple[ScheduleRecord, VersionRecord, Sequence[DueRun]]]
    ) -> list[RunRecord]:
        """:meth:`create_scheduled_run` for many schedules at once: each schedule moved past
        its last run and every run inserted, in one transaction and a statement per kind
        of write (each executed for many rows). A schedule's runs must be consecutive
        intervals, oldest first, starting right after the schedule's own last interval.

        Raises :class:`ScheduleRaceLost` when another scheduler moved any of the schedules first
        (or ``IntegrityError`` when it created one of the runs): then nothing of this call
        may be kept, and inside a batch the caller must roll the batch back.
        """
        created = last = now()
        first: list[dict[str, Any]] = []
        following: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []
        records: list[RunRecord] = []
        for schedule, version, runs in due:
            if not runs:
                continue
            move = {
                "pid": schedule.pipeline_id,
                "old": schedule.last_start,
                "new_start": runs[-1].start,
                "new_end": runs[-1].end,
                "stamp": created,
            }
            (first if schedule.last_start is None else following).append(move)
            for run in runs:
                # Each run its own creation time, later than the one before: runs are
                # claimed in order of creation, so a catchup's intervals run oldest first.
                stamp = now()
                last = stamp if stamp > last else last + _MICROSECOND
                rows.append(
                    moves.run_row(
                        self.db.namespace,
                        run.run_id,
                        version.pipeline_id,
                        version.id,
                        run.parameters,
                        "schedule",
                        experiment=version.pipeline,
                        interval=(run.start, run.end),
                        created=last,
                    )
                )
                records.append(_scheduled_run(schedule, version, run, last))
        if not rows:
            return []
        with self.db.begin() as conn:
            moved = 0
            for statement, params in ((_MOVE_FIRST, first), (_MOVE_NEXT, following)):
                if params:
                    moved += conn.execute(statement, params).rowcount
            if moved != len(first) + len(following):
                raise ScheduleRaceLost
            moves.insert_runs(conn, rows)
        return records

    # Last: a method named ``list`` would hide the builtin in the annotations after it.
    def list(self) -> list[ScheduleRecord]:
        """Every schedule of the namespace, by pipeline name."""
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(t.schedules, t.pipelines.c.name.label("pipeline"))
                .join(t.pipelines, t.pipelines.c.id == _SCHED.pipeline_id)
                .where(_SCHED.namespace == self.db.namespace)
                .order_by(t.pipelines.c.name)
            ).all()
        return [schedule_record(r) for r in rows]
