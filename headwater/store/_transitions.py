"""The one place that writes the status of a run or a task attempt.

Every status the store keeps is written by a function here, and each checks the move
against the table in :mod:`headwater.states`:

- a new run row starts ``queued`` (:func:`insert_run`, :func:`insert_runs`);
- a new attempt row is a move out of ``pending`` (:func:`insert_attempt`);
- a change is applied only where the row is still in the status the caller saw
  (compare-and-set), so a lost race changes nothing and is reported rather than
  overwritten: :func:`move_run` and :func:`move_attempt` return False,
  :func:`move_attempts` (a bulk move, such as granting pool slots) returns the rows
  that did move.

The times that follow from a status are stamped here too: ``started_at`` on running,
``finished_at`` on an end, and a run queued again forgets how it ended.

Each function works inside the caller's transaction (``conn``), so the status moves
with whatever else the caller writes. ``tests/test_status_writes.py`` fails when
code anywhere else writes a status column.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from headwater.errors import IllegalTransition
from headwater.states import (
    ATTEMPT_DONE,
    RUN_DONE,
    RunStatus,
    TaskStatus,
    check_run,
    check_task,
)
from headwater.store import _schema as t
from headwater.store._base import now

# ------------------------------------------------------------------ runs


def run_row(
    namespace: str,
    run_id: str,
    pipeline_id: str,
    version_id: str,
    parameters: dict[str, Any],
    trigger: str,
    *,
    experiment: str,
    cache_enabled: bool = True,
    interval: tuple[datetime, datetime] | None = None,
    owner: str | None = None,
    created: datetime | None = None,
    confined: bool = True,
) -> dict[str, Any]:
    """The row of a new (queued) run, for :func:`insert_run` or :func:`insert_runs`."""
    start, end = interval if interval is not None else (None, None)
    created = created or now()
    return {
        "id": run_id,
        "namespace": namespace,
        "pipeline_id": pipeline_id,
        "version_id": version_id,
        "status": RunStatus.QUEUED.value,
        "parameters": parameters,
        "trigger": trigger,
        "cache_enabled": cache_enabled,
        "created_at": created,
        "data_interval_start": start,
        "data_interval_end": end,
        # The owner is the creating process's own engine: where it runs is recorded now,
        # so a run whose process dies before it claims the run can be told apart from
        # one driven on another machine, and resumed at once.
        "engine_id": owner,
        "engine_host": os.uname().nodename if owner else None,
        "engine_pid": os.getpid() if owner else None,
        "heartbeat_at": created if owner else None,
        "confined": confined,
        "experiment": experiment,
    }


def insert_run(
    conn: sa.Connection,
    namespace: str,
    run_id: str,
    pipeline_id: str,
    version_id: str,
    parameters: dict[str, Any],
    trigger: str,
    *,
    experiment: str,
    cache_enabled: bool = True,
    interval: tuple[datetime, datetime] | None = None,
    owner: str | None = None,
    created: datetime | None = None,
    confined: bool = True,
) -> datetime:
    """The one place a run row is written (queued); returns its creation time. The
    statement is built once and run with parameters: a scheduler pass writes many.
    Runs are ``confined`` to their namespace's URI roots unless told otherwise."""
    row = run_row(
        namespace,
        run_id,
        pipeline_id,
        version_id,
        parameters,
        trigger,
        experiment=experiment,
        cache_enabled=cache_enabled,
        interval=interval,
        owner=owner,
        created=created,
        confined=confined,
    )
    conn.execute(t.runs.insert(), row)
    return row["created_at"]  # type: ignore[no-any-return]


def insert_runs(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Several new runs (rows from :func:`run_row`) in one statement executed for many
    rows: a scheduler pass writing thousands of runs sends them together."""
    if rows:
        conn.execute(t.runs.insert(), list(rows))


def move_run(
    conn: sa.Connection,
    namespace: str,
    run_id: str,
    current: RunStatus,
    target: RunStatus,
    *,
    where: Sequence[sa.ColumnElement[bool]] = (),
    **values: Any,
) -> bool:
    """Move a run from ``current`` to ``target`` (setting ``values`` with it) if it is
    still ``current`` and matches ``where``; False when it is not (a lost race)."""
    check_run(current, target)
    ts = now()
    values["status"] = target.value
    if target is RunStatus.RUNNING:
        values.setdefault("started_at", ts)
        values.setdefault("engine_host", os.uname().nodename)
        values.setdefault("engine_pid", os.getpid())
        values.setdefault("heartbeat_at", ts)
    if target in RUN_DONE:
        values.setdefault("finished_at", ts)
    elif current in RUN_DONE:
        # Queued again (tasks cleared): how it ended, and who drove it, no longer hold.
        for column in (
            "finished_at",
            "error",
            "outputs",
            "engine_id",
            "heartbeat_at",
            "cancel_requested_at",
        ):
            values.setdefault(column, None)
    r = t.runs.c
    done = conn.execute(
        t.runs.update()
        .where(r.id == run_id, r.namespace == namespace, r.status == current.value, *where)
        .values(**values)
    ).rowcount
    return bool(done)


# ------------------------------------------------------------------ task attempts


def insert_attempt(conn: sa.Connection, row: dict[str, Any]) -> dict[str, Any]:
    """Write a new attempt row (a move out of ``pending`` into ``row["status"]``), stamped
    started and finished when it is born running or ended; returns the row written."""
    status = TaskStatus(row["status"])
    if status is not TaskStatus.PENDING:
        check_task(TaskStatus.PENDING, status)
    ts = row["created_at"]
    finished = ts if status in ATTEMPT_DONE else None
    row = {
        **row,
        "status": status.value,
        "started_at": ts if finished or status is TaskStatus.RUNNING else None,
        "finished_at": finished,
    }
    conn.execute(t.task_runs.insert(), row)
    return row


_ATTEMPT_UPDATES: dict[frozenset[str], sa.Update] = {}


def _attempt_update(keys: frozenset[str]) -> sa.Update:
    """``UPDATE task_runs SET <keys> WHERE id = :_id AND namespace = :_ns AND status =
    :_current``, built once per set of columns (an engine runs it for every event)."""
    stmt = _ATTEMPT_UPDATES.get(keys)
    if stmt is None:
        tr = t.task_runs.c
        stmt = (
            t.task_runs.update()
            .where(
                tr.id == sa.bindparam("_id"),
                tr.namespace == sa.bindparam("_ns"),
                tr.status == sa.bindparam("_current"),
            )
            .values({k: sa.bindparam(f"v_{k}") for k in sorted(keys)})
        )
        _ATTEMPT_UPDATES[keys] = stmt
    return stmt


def _attempt_values(
    current: TaskStatus,
    target: TaskStatus,
    values: dict[str, Any],
    via: TaskStatus | None = None,
) -> None:
    """Check the move (through ``via``, when two moves are recorded at once) and add the
    status and the times that follow from it to ``values``.

    Staying in the same status (to set other columns, such as a pid) is allowed while
    the attempt has not ended.
    """
    if via is not None:
        check_task(current, via)
        _attempt_values(via, target, values)
        if via is TaskStatus.RUNNING:
            values.setdefault("started_at", now())
        return
    if target is not current:
        check_task(current, target)
    elif current in ATTEMPT_DONE:
        raise IllegalTransition(f"task attempt is {current}; a finished attempt does not change")
    values["status"] = target.value
    ts = now()
    if target is TaskStatus.RUNNING and current is not TaskStatus.RUNNING:
        values.setdefault("started_at", ts)
    if target in ATTEMPT_DONE:
        values.setdefault("finished_at", ts)


def move_attempt(
    conn: sa.Connection,
    namespace: str,
    task_run_id: str,
    current: TaskStatus,
    target: TaskStatus,
    values: dict[str, Any],
    *,
    via: TaskStatus | None = None,
) -> bool:
    """Move an attempt from ``current`` to ``target`` (through ``via``, when two moves are
    recorded at once), setting ``values`` with it, if it is still ``current``; False when
    it is not (a lost race)."""
    values = dict(values)
    _attempt_values(current, target, values, via)
    params = {f"v_{k}": v for k, v in values.items()}
    params.update(_id=task_run_id, _ns=namespace, _current=current.value)
    return conn.execute(_attempt_update(frozenset(values)), params).rowcount == 1


def move_attempts(
    conn: sa.Connection,
    namespace: str,
    ids: Sequence[str],
    current: TaskStatus,
    target: TaskStatus,
) -> list[str]:
    """Move each of ``ids`` that is still ``current`` to ``target``; returns the ids that
    moved (a row another process moved first is left alone, and left out)."""
    if not ids:
        return []
    values: dict[str, Any] = {}
    _attempt_values(current, target, values)
    tr = t.task_runs.c
    moved = conn.execute(
        t.task_runs.update()
        .where(tr.id.in_(list(ids)), tr.namespace == namespace, tr.status == current.value)
        .values(**values)
        .returning(tr.id)
    ).scalars()
    order = {task_run_id: n for n, task_run_id in enumerate(ids)}
    return sorted(moved, key=order.__getitem__)
