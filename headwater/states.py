"""The one state machine of runs and task attempts.

Every status change of a run or a task attempt goes through :func:`check_run`
or :func:`check_task`, which refuse a transition the table does not allow; the
store writes statuses in one module (``headwater/store/_transitions.py``), which
applies them. A task has one row per attempt: an attempt that failed but will be
retried ends in ``up_for_retry`` and the next attempt starts as a new row. A new
attempt row counts as a move out of ``pending``.

The sets of statuses that code tests against (done, live, active, ...) are named
here, once; nothing else spells them out.
"""

from __future__ import annotations

from enum import StrEnum

from headwater.errors import IllegalTransition


class TaskStatus(StrEnum):
    PENDING = "pending"
    # Ready, but waiting for a pool slot or under a concurrency limit.
    WAITING = "waiting"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CACHED = "cached"
    UPSTREAM_FAILED = "upstream_failed"
    UP_FOR_RETRY = "up_for_retry"
    CANCELLED = "cancelled"
    # A sensor between checks: it holds no process, task slot or pool slot; the engine's
    # triggerer checks it (or queues its next poke) and it ends or is queued again.
    DEFERRED = "deferred"


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


T = TaskStatus
R = RunStatus

TASK_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    # Besides waiting or queued for a process, an attempt can be born running (a nested
    # pipeline's, whose inner tasks are its work) or succeeded (an importer's, which
    # records an existing artifact and runs nothing).
    T.PENDING: frozenset(
        {
            T.WAITING,
            T.QUEUED,
            T.RUNNING,
            T.SUCCEEDED,
            T.CACHED,
            T.SKIPPED,
            T.UPSTREAM_FAILED,
            T.FAILED,
            T.CANCELLED,
            T.DEFERRED,
        }
    ),
    T.WAITING: frozenset({T.QUEUED, T.FAILED, T.CANCELLED}),
    T.QUEUED: frozenset({T.RUNNING, T.FAILED, T.UP_FOR_RETRY, T.CANCELLED}),
    # A sensor's poke that found its condition false goes back to deferred (same attempt),
    # or, past its timeout with soft_fail, ends skipped.
    T.RUNNING: frozenset(
        {T.SUCCEEDED, T.FAILED, T.UP_FOR_RETRY, T.CANCELLED, T.DEFERRED, T.SKIPPED}
    ),
    # Its condition held (succeeded), it timed out (failed, or skipped with soft_fail),
    # its next poke is queued (waiting or queued, the same attempt), or it is cancelled.
    T.DEFERRED: frozenset({T.SUCCEEDED, T.FAILED, T.SKIPPED, T.WAITING, T.QUEUED, T.CANCELLED}),
    T.SUCCEEDED: frozenset(),
    T.FAILED: frozenset(),
    T.SKIPPED: frozenset(),
    T.CACHED: frozenset(),
    T.UPSTREAM_FAILED: frozenset(),
    T.UP_FOR_RETRY: frozenset(),
    T.CANCELLED: frozenset(),
}

RUN_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    R.QUEUED: frozenset({R.RUNNING, R.CANCELLED, R.FAILED}),
    R.RUNNING: frozenset({R.SUCCEEDED, R.FAILED, R.CANCELLED}),
    # An ended run goes back to queued only when some of its tasks are cleared to run again.
    R.SUCCEEDED: frozenset({R.QUEUED}),
    R.FAILED: frozenset({R.QUEUED}),
    R.CANCELLED: frozenset({R.QUEUED}),
}

# A task (its latest attempt) in one of these states will not change any more.
TASK_DONE = frozenset({T.SUCCEEDED, T.FAILED, T.SKIPPED, T.CACHED, T.UPSTREAM_FAILED, T.CANCELLED})
# States whose outputs downstream tasks can read.
TASK_SUCCESS = frozenset({T.SUCCEEDED, T.CACHED})
TASK_FAILURE = frozenset({T.FAILED, T.UPSTREAM_FAILED})
# Finished without failing: a group of tasks that all end in these succeeds.
TASK_OK = frozenset({T.SUCCEEDED, T.CACHED, T.SKIPPED})
# Failed in itself (not for its upstream's sake), or cancelled: what Airflow's trigger
# rules count as "failed" beside "upstream_failed".
TASK_FAILED_ITSELF = frozenset({T.FAILED, T.CANCELLED})
# Finished and not OK: what trigger rules count as a failed upstream task.
TASK_NOT_OK = frozenset({T.FAILED, T.UPSTREAM_FAILED, T.CANCELLED})
# An attempt row in one of these will not change any more (after up_for_retry the task
# goes on in a new attempt row).
ATTEMPT_DONE = TASK_DONE | {T.UP_FOR_RETRY}
# Attempts that hold their pool slots: granted a place, or running.
TASK_LIVE = frozenset({T.QUEUED, T.RUNNING})
# An attempt that is to run but has no process yet (waiting for a slot, or queued).
TASK_UNSTARTED = frozenset({T.WAITING, T.QUEUED})
RUN_DONE = frozenset({R.SUCCEEDED, R.FAILED, R.CANCELLED})
# Runs an engine drives (or will): they count against max_active_runs and can be cancelled.
RUN_ACTIVE = frozenset({R.QUEUED, R.RUNNING})


def check_task(current: TaskStatus, target: TaskStatus) -> TaskStatus:
    if target not in TASK_TRANSITIONS[current]:
        raise IllegalTransition(f"task attempt cannot go from {current} to {target}")
    return target


def check_run(current: RunStatus, target: RunStatus) -> RunStatus:
    if target not in RUN_TRANSITIONS[current]:
        raise IllegalTransition(f"run cannot go from {current} to {target}")
    return target
