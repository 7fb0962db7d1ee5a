"""Tuning studies: their settings, their Optuna journal, and the runs that are their trials.

A study's state in Optuna is a journal of log entries (:mod:`headwater.tuning` reads and
appends them through this area); ``study_trials`` maps each Optuna trial number to the run
that evaluates it, so a study resumed after its process died finds the runs it started.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from headwater.errors import Conflict, NotFound
from headwater.store import _schema as t
from headwater.store._base import Database, fields_of, new_id, now


@dataclass(frozen=True)
class StudyRecord:
    id: str
    namespace: str
    name: str
    pipeline: str
    objective: str
    direction: str
    sampler: str
    pruner: str
    space: dict[str, Any]
    settings: dict[str, Any]
    status: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class TrialRecord:
    study_id: str
    number: int
    run_id: str | None
    state: str
    params: dict[str, Any]
    value: float | None
    created_at: datetime
    finished_at: datetime | None


class StudyStore:
    """Studies, their journals and their trials, over the shared database handle."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ studies

    def create_study(
        self,
        name: str,
        *,
        pipeline: str,
        objective: str,
        direction: str,
        sampler: str,
        pruner: str,
        space: dict[str, Any],
        settings: dict[str, Any],
        status: str = "running",
    ) -> StudyRecord:
        """Record a new study; a study of that name in this namespace raises Conflict."""
        stamp = now()
        study_id = new_id()
        with self.db.begin() as conn:
            made = conn.execute(
                self.db.insert_new(t.studies)
                .values(
                    id=study_id,
                    namespace=self.db.namespace,
                    name=name,
                    pipeline=pipeline,
                    objective=objective,
                    direction=direction,
                    sampler=sampler,
                    pruner=pruner,
                    space=space,
                    settings=settings,
                    status=status,
                    created_at=stamp,
                    updated_at=stamp,
                )
                .returning(t.studies.c.id)
            ).first()
        if made is None:
            raise Conflict(
                f"a study named '{name}' already exists",
                hint=f"resume it with 'headwater tune --resume {name}', or give another --study",
            )
        return self.get_study(name)

    def get_study(self, name: str) -> StudyRecord:
        s = t.studies.c
        with self.db.connect() as conn:
            row = (
                conn.execute(
                    sa.select(t.studies).where(s.namespace == self.db.namespace, s.name == name)
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(
                f"no study named '{name}'",
                hint="'headwater studies list' shows the studies there are",
            )
        return StudyRecord(**fields_of(StudyRecord, row))

    def list_studies(self, limit: int = 100) -> list[StudyRecord]:
        s = t.studies.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(t.studies)
                .where(s.namespace == self.db.namespace)
                .order_by(s.created_at.desc(), s.id.desc())
                .limit(limit)
            ).mappings()
            return [StudyRecord(**fields_of(StudyRecord, r)) for r in rows]

    def set_status(self, study_id: str, status: str) -> None:
        with self.db.begin() as conn:
            conn.execute(
                t.studies.update()
                .where(t.studies.c.id == study_id)
                .values(status=status, updated_at=now())
            )

    # ------------------------------------------------------------------ journal

    def read_journal(self, study_id: str, start: int = 0) -> list[dict[str, Any]]:
        """The study's journal entries numbered ``start`` and above, in order."""
        j = t.study_journal.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(j.entry).where(j.study_id == study_id, j.seq >= start).order_by(j.seq)
            )
            return [r[0] for r in rows]

    def append_journal(self, study_id: str, first: int, entries: Iterable[dict[str, Any]]) -> bool:
        """Write ``entries`` numbered from ``first`` on; False (and nothing written) when
        another writer took one of those numbers first: read what it wrote and try again."""
        rows = [
            {"study_id": study_id, "seq": first + i, "namespace": self.db.namespace, "entry": e}
            for i, e in enumerate(entries)
        ]
        try:
            with self.db.begin() as conn:
                conn.execute(t.study_journal.insert(), rows)
        except sa.exc.IntegrityError:
            if self.db.in_batch:
                raise
            return False
        return True

    # ------------------------------------------------------------------ trials

    def record_trial(
        self,
        study_id: str,
        number: int,
        *,
        state: str,
        params: dict[str, Any] | None = None,
        run_id: str | None = None,
        value: float | None = None,
        finished: bool = False,
    ) -> None:
        """Create or update trial ``number``: its state, and its run and value once known."""
        q = t.study_trials.c
        stamp = now()
        with self.db.begin() as conn:
            conn.execute(
                self.db.insert_new(t.study_trials).values(
                    study_id=study_id,
                    number=number,
                    namespace=self.db.namespace,
                    state=state,
                    params=params or {},
                    run_id=run_id,
                    created_at=stamp,
                )
            )
            values: dict[str, Any] = {"state": state}
            if params is not None:
                values["params"] = params
            if run_id is not None:
                values["run_id"] = run_id
            if value is not None:
                values["value"] = value
            if finished:
                values["finished_at"] = stamp
            conn.execute(
                t.study_trials.update()
                .where(q.study_id == study_id, q.number == number)
                .values(**values)
            )

    def trials(self, study_id: str) -> list[TrialRecord]:
        q = t.study_trials.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(t.study_trials).where(q.study_id == study_id).order_by(q.number)
            ).mappings()
            return [TrialRecord(**fields_of(TrialRecord, r)) for r in rows]

    def trial_counts(self) -> dict[str, dict[str, int]]:
        """How many trials each study of this namespace has, by state."""
        q = t.study_trials.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(q.study_id, q.state, sa.func.count())
                .where(q.namespace == self.db.namespace)
                .group_by(q.study_id, q.state)
            )
            out: dict[str, dict[str, int]] = {}
            for study_id, state, count in rows:
                out.setdefault(study_id, {})[state] = count
            return out
