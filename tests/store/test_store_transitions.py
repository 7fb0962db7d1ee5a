"""Status writes through the one transition path: checked, conditional, scoped.

Each store method that moves a run or an attempt goes through
``headwater/store/_transitions.py``; these tests pin what that path adds over a plain
UPDATE: a move is checked against the state machine, applied only to a row still in the
status the caller saw (a bulk move row by row), and only in the store's namespace.
"""

from __future__ import annotations

import pytest

from headwater.errors import IllegalTransition, NotFound
from headwater.states import RunStatus, TaskStatus
from headwater.store import MetadataStore, RunRecord, SlotRequest, TaskRunRecord, VersionRecord

T = TaskStatus
R = RunStatus


def waiting(store: MetadataStore, run: RunRecord, path: str, priority: int = 0) -> TaskRunRecord:
    return store.tasks.add_task_run(
        run.id, path, path, "comp", 1, T.WAITING, pool="gpu", pool_slots=1, priority=priority
    )


def grant(store: MetadataStore, run: RunRecord, *records: TaskRunRecord) -> list[str]:
    requests = [SlotRequest(r.id, "gpu", 1, r.priority or 0) for r in records]
    granted, refused = store.pools.grant_slots(
        requests, pipeline_id=run.pipeline_id, pipeline_limit=None, global_limit=None
    )
    assert refused == {}
    return granted


def test_a_slot_grant_moves_only_the_attempts_still_waiting(
    store: MetadataStore, run: RunRecord
) -> None:
    store.pools.set_pool("gpu", 5)
    gone = waiting(store, run, "gone", priority=5)
    kept = waiting(store, run, "kept")
    # Cancelled by another process after the engine asked for its slot.
    store.tasks.update_task_run(gone.id, T.WAITING, T.CANCELLED, error="run cancelled")

    assert grant(store, run, gone, kept) == [kept.id]
    assert store.tasks.get_task_run(gone.id).status is T.CANCELLED
    assert store.tasks.get_task_run(kept.id).status is T.QUEUED
    assert store.pools.get_pool("gpu").occupied == 1


def test_a_slot_grant_reports_the_granted_in_priority_order(
    store: MetadataStore, run: RunRecord
) -> None:
    store.pools.set_pool("gpu", 5)
    low = waiting(store, run, "low", priority=1)
    high = waiting(store, run, "high", priority=9)

    assert grant(store, run, low, high) == [high.id, low.id]


def test_finish_task_run_refuses_a_status_that_is_no_end(
    store: MetadataStore, run: RunRecord
) -> None:
    queued = store.tasks.add_task_run(run.id, "fit", "fit", "comp", 1, T.QUEUED)

    with pytest.raises(IllegalTransition, match="cannot finish as running"):
        store.tasks.finish_task_run(queued, T.RUNNING, current=T.QUEUED)
    assert store.tasks.get_task_run(queued.id) == queued


def test_an_attempt_moves_only_in_its_own_namespace(
    store: MetadataStore, run: RunRecord, other_namespace: MetadataStore
) -> None:
    queued = store.tasks.add_task_run(run.id, "fit", "fit", "comp", 1, T.QUEUED)

    with pytest.raises(NotFound, match="is not queued any more"):
        other_namespace.tasks.update_task_run(queued.id, T.QUEUED, T.RUNNING, pid=1)
    with pytest.raises(NotFound):
        other_namespace.tasks.finish_task_run(queued, T.CANCELLED, current=T.QUEUED)
    assert store.tasks.get_task_run(queued.id) == queued


def test_fail_run_ends_the_owners_active_run(store: MetadataStore, version: VersionRecord) -> None:
    run = store.runs.create_run(version, {}, owner="engine-1")
    store.runs.set_run_status(run.id, R.QUEUED, R.RUNNING)

    assert not store.control.fail_run(run.id, "engine-2", "not mine")
    assert store.control.fail_run(run.id, "engine-1", "the engine could not go on")

    failed = store.runs.get_run(run.id)
    assert (failed.status, failed.error) == (R.FAILED, "the engine could not go on")
    assert failed.finished_at is not None
    assert not store.control.fail_run(run.id, "engine-1", "again"), "an ended run failed twice"
    assert store.runs.get_run(run.id).error == "the engine could not go on"


def test_fail_run_is_scoped_to_the_stores_namespace(
    store: MetadataStore, version: VersionRecord, other_namespace: MetadataStore
) -> None:
    run = store.runs.create_run(version, {}, owner="engine-1")

    assert not other_namespace.control.fail_run(run.id, "engine-1", "from another team")
    assert store.runs.get_run(run.id).status is R.QUEUED


def test_clearing_tasks_queues_the_run_again_and_forgets_how_it_ended(
    store: MetadataStore, version: VersionRecord
) -> None:
    run = store.runs.create_run(version, {}, owner="engine-1")
    store.runs.set_run_status(run.id, R.QUEUED, R.RUNNING)
    task = store.tasks.add_task_run(run.id, "fit", "fit", "comp", 1, T.FAILED, error="boom")
    store.control.request_cancel(run.id)  # a cancel request the ended run no longer needs
    store.runs.set_run_status(run.id, R.RUNNING, R.FAILED, error="task fit failed")

    assert store.control.clear_tasks(run.id, ["fit"]) == ["fit"]

    again = store.runs.get_run(run.id)
    assert again.status is R.QUEUED
    assert (again.error, again.finished_at, again.engine_id) == (None, None, None)
    assert (again.heartbeat_at, again.cancel_requested_at) == (None, None)
    assert store.tasks.get_task_run(task.id).cleared_at is not None
