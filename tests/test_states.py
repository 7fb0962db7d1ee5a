"""The one state machine of runs and task attempts (headwater/states.py).

The expected tables are written out here by hand, independently of the module, so a
change to an allowed transition or a terminal set fails a test and has to be made on
purpose in both places.
"""

from __future__ import annotations

import itertools
from typing import TypeVar

import pytest

from headwater.errors import HeadwaterError, IllegalTransition
from headwater.states import (
    ATTEMPT_DONE,
    RUN_ACTIVE,
    RUN_DONE,
    RUN_TRANSITIONS,
    TASK_DONE,
    TASK_FAILURE,
    TASK_LIVE,
    TASK_NOT_OK,
    TASK_OK,
    TASK_SUCCESS,
    TASK_TRANSITIONS,
    TASK_UNSTARTED,
    RunStatus,
    TaskStatus,
    check_run,
    check_task,
)

T = TaskStatus
R = RunStatus

EXPECTED_TASK: dict[TaskStatus, set[TaskStatus]] = {
    # A new attempt row is a move out of pending. It is born running for a nested
    # pipeline (its inner tasks are its work) and succeeded for an importer (no process).
    T.PENDING: {
        T.WAITING,
        T.QUEUED,
        T.RUNNING,
        T.SUCCEEDED,
        T.CACHED,
        T.SKIPPED,
        T.UPSTREAM_FAILED,
        T.FAILED,
        T.CANCELLED,
        T.DEFERRED,  # a built-in wait (a sensor the engine checks itself)
    },
    T.WAITING: {T.QUEUED, T.FAILED, T.CANCELLED},  # a pool slot, or the pool is missing
    T.QUEUED: {T.RUNNING, T.FAILED, T.UP_FOR_RETRY, T.CANCELLED},
    # A sensor's poke rests deferred until the next, or soft-fails (skipped) at its timeout.
    T.RUNNING: {T.SUCCEEDED, T.FAILED, T.UP_FOR_RETRY, T.CANCELLED, T.DEFERRED, T.SKIPPED},
    # A wait ends (held, timed out, cancelled) or its next poke is queued (same attempt).
    T.DEFERRED: {
        T.SUCCEEDED,
        T.FAILED,
        T.SKIPPED,
        T.WAITING,
        T.QUEUED,
        T.CANCELLED,
    },
    T.SUCCEEDED: set(),
    T.FAILED: set(),
    T.SKIPPED: set(),
    T.CACHED: set(),
    T.UPSTREAM_FAILED: set(),
    T.UP_FOR_RETRY: set(),  # the retry is a new attempt row
    T.CANCELLED: set(),
}

EXPECTED_RUN: dict[RunStatus, set[RunStatus]] = {
    R.QUEUED: {R.RUNNING, R.CANCELLED, R.FAILED},
    R.RUNNING: {R.SUCCEEDED, R.FAILED, R.CANCELLED},
    # Clearing tasks (retry failed, clear downstream) queues an ended run again.
    R.SUCCEEDED: {R.QUEUED},
    R.FAILED: {R.QUEUED},
    R.CANCELLED: {R.QUEUED},
}


def test_stored_status_names_are_stable() -> None:
    # These strings are written to the database and the API; renaming one is a migration.
    assert [s.value for s in TaskStatus] == [
        "pending",
        "waiting",
        "queued",
        "running",
        "succeeded",
        "failed",
        "skipped",
        "cached",
        "upstream_failed",
        "up_for_retry",
        "cancelled",
        "deferred",
    ]
    assert [s.value for s in RunStatus] == ["queued", "running", "succeeded", "failed", "cancelled"]


def test_the_tables_cover_every_status() -> None:
    assert set(TASK_TRANSITIONS) == set(TaskStatus)
    assert set(RUN_TRANSITIONS) == set(RunStatus)


def test_the_tables_are_the_documented_ones() -> None:
    assert {k: set(v) for k, v in TASK_TRANSITIONS.items()} == EXPECTED_TASK
    assert {k: set(v) for k, v in RUN_TRANSITIONS.items()} == EXPECTED_RUN


@pytest.mark.parametrize(
    ("current", "target"), list(itertools.product(TaskStatus, TaskStatus)), ids=str
)
def test_check_task(current: TaskStatus, target: TaskStatus) -> None:
    if target in EXPECTED_TASK[current]:
        assert check_task(current, target) is target
    else:
        with pytest.raises(IllegalTransition) as info:
            check_task(current, target)
        assert str(info.value) == f"task attempt cannot go from {current} to {target}"


@pytest.mark.parametrize(
    ("current", "target"), list(itertools.product(RunStatus, RunStatus)), ids=str
)
def test_check_run(current: RunStatus, target: RunStatus) -> None:
    if target in EXPECTED_RUN[current]:
        assert check_run(current, target) is target
    else:
        with pytest.raises(IllegalTransition) as info:
            check_run(current, target)
        assert str(info.value) == f"run cannot go from {current} to {target}"


def test_no_status_goes_to_itself() -> None:
    for task in TaskStatus:
        with pytest.raises(IllegalTransition):
            check_task(task, task)
    for run in RunStatus:
        with pytest.raises(IllegalTransition):
            check_run(run, run)


def test_illegal_transition_is_a_headwater_error() -> None:
    assert issubclass(IllegalTransition, HeadwaterError)


def test_run_terminal_set() -> None:
    assert {R.SUCCEEDED, R.FAILED, R.CANCELLED} == RUN_DONE
    # An ended run changes only by being queued again when tasks are cleared.
    assert {s for s, targets in EXPECTED_RUN.items() if targets == {R.QUEUED}} == RUN_DONE


def test_task_terminal_sets() -> None:
    assert {T.SUCCEEDED, T.FAILED, T.SKIPPED, T.CACHED, T.UPSTREAM_FAILED, T.CANCELLED} == TASK_DONE
    # Every finished state is a dead end; up_for_retry is a dead end for its attempt
    # row but not for the task, whose next attempt is a new row.
    assert {s for s, targets in EXPECTED_TASK.items() if not targets} == TASK_DONE | {
        T.UP_FOR_RETRY
    }
    assert {T.SUCCEEDED, T.CACHED} == TASK_SUCCESS
    assert {T.FAILED, T.UPSTREAM_FAILED} == TASK_FAILURE
    assert TASK_SUCCESS <= TASK_DONE
    assert TASK_FAILURE <= TASK_DONE
    assert not TASK_SUCCESS & TASK_FAILURE
    assert T.UP_FOR_RETRY not in TASK_DONE


def test_the_named_task_sets() -> None:
    assert {T.SUCCEEDED, T.CACHED, T.SKIPPED} == TASK_OK
    assert {T.FAILED, T.UPSTREAM_FAILED, T.CANCELLED} == TASK_NOT_OK
    # Every finished task is either OK or not; a group fails on any that is not.
    assert TASK_OK | TASK_NOT_OK == TASK_DONE
    assert not TASK_OK & TASK_NOT_OK
    assert TASK_SUCCESS <= TASK_OK
    assert TASK_FAILURE <= TASK_NOT_OK
    # An attempt row ends where the table has no way out of it.
    assert {s for s, targets in EXPECTED_TASK.items() if not targets} == ATTEMPT_DONE
    assert {T.QUEUED, T.RUNNING} == TASK_LIVE
    assert not TASK_LIVE & ATTEMPT_DONE
    # Not started yet: a slot or a process is still to come; both can still be cancelled.
    assert {T.WAITING, T.QUEUED} == TASK_UNSTARTED
    assert all(T.CANCELLED in EXPECTED_TASK[s] for s in TASK_UNSTARTED)


def test_the_named_run_sets() -> None:
    assert {R.QUEUED, R.RUNNING} == RUN_ACTIVE
    assert set(RunStatus) == RUN_ACTIVE | RUN_DONE
    assert not RUN_ACTIVE & RUN_DONE


@pytest.mark.parametrize("status", list(TaskStatus), ids=str)
def test_which_statuses_an_attempt_can_be_born_in(status: TaskStatus) -> None:
    """Every status but up_for_retry: that one is only reached by an attempt that ran."""
    if status is T.UP_FOR_RETRY:
        with pytest.raises(IllegalTransition):
            check_task(T.PENDING, status)
    elif status is not T.PENDING:
        assert check_task(T.PENDING, status) is status


S = TypeVar("S", TaskStatus, RunStatus)


def _reachable(table: dict[S, set[S]], start: S) -> set[S]:
    seen, frontier = {start}, [start]
    while frontier:
        for target in table[frontier.pop()]:
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    return seen


def test_every_status_is_reachable_from_the_first() -> None:
    assert _reachable(EXPECTED_TASK, T.PENDING) == set(TaskStatus)
    assert _reachable(EXPECTED_RUN, R.QUEUED) == set(RunStatus)


def test_every_live_status_can_still_finish() -> None:
    for status, targets in EXPECTED_TASK.items():
        if status not in TASK_DONE and status is not T.UP_FOR_RETRY:
            assert targets & TASK_DONE, status
    for run_status, run_targets in EXPECTED_RUN.items():
        if run_status not in RUN_DONE:
            assert run_targets & RUN_DONE, run_status
