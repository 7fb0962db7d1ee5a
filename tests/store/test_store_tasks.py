"""Task attempts in the metadata store: adding, moving, finishing, caching."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from headwater.errors import IllegalTransition, NotFound
from headwater.states import TASK_TRANSITIONS, TaskStatus
from headwater.store import MetadataStore, MetricPoint, NewArtifact, RunRecord, TaskRunRecord

T = TaskStatus
StartTask = Callable[..., TaskRunRecord]
CountRows = Callable[[str], int]
WRITTEN_BY_FINISH = ("artifacts", "lineage_events", "metrics")


def assert_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None, f"{value!r} is naive"
    assert value.utcoffset() == timedelta(0), f"{value!r} is not UTC"


def add(
    store: MetadataStore, run: RunRecord, path: str, status: TaskStatus, **kwargs: object
) -> TaskRunRecord:
    attempt = kwargs.pop("attempt", 1)
    return store.tasks.add_task_run(run.id, path, path, "comp", attempt, status, **kwargs)  # type: ignore[arg-type]


def reach(
    store: MetadataStore, run: RunRecord, path: str, status: TaskStatus, **kwargs: object
) -> TaskRunRecord:
    """An attempt in ``status``, reached the legal way: born in the first status on the
    shortest path from pending, then moved along it."""
    paths: dict[TaskStatus, list[TaskStatus]] = {T.PENDING: []}
    frontier = [T.PENDING]
    while status not in paths:
        here = frontier.pop(0)
        for there in sorted(TASK_TRANSITIONS[here]):
            if there not in paths:
                paths[there] = [*paths[here], there]
                frontier.append(there)
    steps = paths[status] or [T.PENDING]
    record = add(store, run, path, steps[0], **kwargs)
    for current, target in itertools.pairwise(steps):
        store.tasks.update_task_run(record.id, current, target)
    return store.tasks.get_task_run(record.id)


def dataset(name: str = "data", **kwargs: object) -> NewArtifact:
    fields: dict[str, object] = {
        "type": "system.Dataset",
        "uri": f"/artifacts/{name}",
        "digest": f"sha256:{name}",
        "size": 123,
        "metadata": {"rows": 10},
    }
    fields.update(kwargs)
    return NewArtifact(name=name, **fields)  # type: ignore[arg-type]


def point(key: str, value: float, step: int | None = None, **kwargs: object) -> MetricPoint:
    logged_at = kwargs.pop("logged_at", datetime.now(UTC))
    return MetricPoint(key, value, step, logged_at, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- add


def test_add_task_run_returns_what_the_store_reads_back(
    store: MetadataStore, run: RunRecord
) -> None:
    added = store.tasks.add_task_run(
        run.id,
        "sweep[2].fit",
        "fit",
        "train_model",
        1,
        T.QUEUED,
        inputs={"lr": 0.1, "data": {"uri": "/x"}},
        cache_key="sha256:key",
        log_path="/logs/fit.log",
    )

    got = store.tasks.get_task_run(added.id)
    assert got == added
    assert (got.path, got.task, got.component, got.attempt) == (
        "sweep[2].fit",
        "fit",
        "train_model",
        1,
    )
    assert got.inputs == {"lr": 0.1, "data": {"uri": "/x"}}
    assert (got.status, got.cache_key, got.log_path) == (T.QUEUED, "sha256:key", "/logs/fit.log")
    assert got.started_at is None and got.finished_at is None
    assert_utc(got.created_at)
    assert got.duration is None


@pytest.mark.parametrize("status", list(TaskStatus), ids=str)
def test_add_task_run_is_a_move_out_of_pending(
    store: MetadataStore, run: RunRecord, status: TaskStatus, count_rows: CountRows
) -> None:
    if status is not T.PENDING and status not in TASK_TRANSITIONS[T.PENDING]:
        with pytest.raises(IllegalTransition, match=f"from pending to {status}"):
            add(store, run, "a", status)
        assert count_rows("task_runs") == 0
        return
    added = add(store, run, "a", status, error="why" if status is T.UPSTREAM_FAILED else None)
    got = store.tasks.get_task_run(added.id)

    assert got == added
    assert got.status is status
    if status in (T.PENDING, T.WAITING, T.QUEUED, T.RUNNING, T.UP_FOR_RETRY, T.DEFERRED):
        assert got.finished_at is None
    else:
        assert_utc(got.finished_at)
        assert got.started_at == got.finished_at
        assert got.duration == timedelta(0)


def test_the_same_attempt_cannot_be_added_twice(
    store: MetadataStore, run: RunRecord, count_rows: CountRows
) -> None:
    add(store, run, "fit", T.QUEUED)

    with pytest.raises(sa.exc.IntegrityError):
        add(store, run, "fit", T.QUEUED)
    assert count_rows("task_runs") == 1
    add(store, run, "fit", T.QUEUED, attempt=2)
    assert [(r.path, r.attempt) for r in store.tasks.task_runs(run.id)] == [("fit", 1), ("fit", 2)]


def test_task_runs_lists_every_attempt_oldest_first(store: MetadataStore, run: RunRecord) -> None:
    added = [
        add(store, run, "load", T.SUCCEEDED),
        reach(store, run, "fit", T.UP_FOR_RETRY),
        add(store, run, "fit", T.SUCCEEDED, attempt=2),
        add(store, run, "report", T.SKIPPED),
    ]

    assert store.tasks.task_runs(run.id) == added
    assert store.tasks.task_runs("no-such-run") == []


def test_task_runs_by_id(store: MetadataStore, run: RunRecord) -> None:
    a = add(store, run, "a", T.QUEUED)
    b = add(store, run, "b", T.SUCCEEDED)

    assert store.tasks.task_runs_by_id([a.id, b.id, "missing"]) == {a.id: a, b.id: b}
    assert store.tasks.task_runs_by_id(iter([b.id])) == {b.id: b}
    assert store.tasks.task_runs_by_id([]) == {}


def test_get_task_run_of_an_unknown_id_is_not_found(store: MetadataStore) -> None:
    with pytest.raises(NotFound, match="no task attempt 'nope'"):
        store.tasks.get_task_run("nope")


# ---------------------------------------------------------------------- update


@pytest.mark.parametrize(
    ("current", "target"),
    [(a, b) for a, b in itertools.product(TaskStatus, TaskStatus) if a is not b],
    ids=str,
)
def test_update_task_run_follows_the_state_machine(
    store: MetadataStore, run: RunRecord, current: TaskStatus, target: TaskStatus
) -> None:
    record = reach(store, run, "fit", current)

    if target in TASK_TRANSITIONS[current]:
        store.tasks.update_task_run(record.id, current, target)
        assert store.tasks.get_task_run(record.id).status is target
    else:
        with pytest.raises(IllegalTransition, match=f"from {current} to {target}"):
            store.tasks.update_task_run(record.id, current, target)
        assert store.tasks.get_task_run(record.id) == record


def test_update_task_run_stamps_start_and_finish(store: MetadataStore, run: RunRecord) -> None:
    record = add(store, run, "fit", T.PENDING)
    store.tasks.update_task_run(record.id, T.PENDING, T.QUEUED, log_path="/logs/fit")
    queued = store.tasks.get_task_run(record.id)
    assert queued.started_at is None and queued.finished_at is None
    assert queued.log_path == "/logs/fit"

    store.tasks.update_task_run(record.id, T.QUEUED, T.RUNNING, pid=321)
    running = store.tasks.get_task_run(record.id)
    assert running.pid == 321
    assert_utc(running.started_at)
    assert running.finished_at is None

    store.tasks.update_task_run(record.id, T.RUNNING, T.FAILED, error="killed", exit_code=-9)
    failed = store.tasks.get_task_run(record.id)
    assert (failed.status, failed.error, failed.exit_code, failed.pid) == (
        T.FAILED,
        "killed",
        -9,
        321,
    )
    assert failed.started_at == running.started_at
    assert_utc(failed.finished_at)
    assert failed.duration is not None and failed.duration >= timedelta(0)


def test_update_task_run_without_a_status_change_keeps_the_start_time(
    store: MetadataStore, run: RunRecord, start_task: StartTask
) -> None:
    running = start_task(run.id, "fit")
    assert_utc(running.started_at)

    store.tasks.update_task_run(running.id, T.RUNNING, T.RUNNING, pid=999)

    again = store.tasks.get_task_run(running.id)
    assert again.pid == 999
    assert again.status is T.RUNNING
    assert again.started_at == running.started_at, "setting values re-stamped started_at"
    assert again.finished_at is None


def test_update_task_run_with_a_stale_current_status_is_refused(
    store: MetadataStore, run: RunRecord, start_task: StartTask
) -> None:
    running = start_task(run.id, "fit")

    with pytest.raises(NotFound, match=f"task attempt '{running.id}' is not queued any more"):
        store.tasks.update_task_run(running.id, T.QUEUED, T.CANCELLED)
    assert store.tasks.get_task_run(running.id) == running


def test_only_one_of_many_racing_engines_starts_an_attempt(
    store: MetadataStore, run: RunRecord
) -> None:
    record = add(store, run, "fit", T.QUEUED)
    barrier = threading.Barrier(8)
    outcomes: list[int] = []

    def start(pid: int) -> None:
        barrier.wait()
        try:
            store.tasks.update_task_run(record.id, T.QUEUED, T.RUNNING, pid=pid)
            outcomes.append(pid)
        except NotFound:
            pass

    threads = [threading.Thread(target=start, args=(pid,)) for pid in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(outcomes) == 1
    assert store.tasks.get_task_run(record.id).pid == outcomes[0]


# ---------------------------------------------------------------------- finish


def test_finish_task_run_records_outputs_artifacts_metrics_and_lineage_together(
    store: MetadataStore, run: RunRecord, start_task: StartTask
) -> None:
    task = start_task(run.id, "train")
    model = NewArtifact("model", "system.Model", "/a/model", "sha256:m", 2048, {"framework": "x"})
    report = dataset("report", metadata={})
    t0 = datetime.now(UTC)
    metrics = [
        point("loss", 0.9, 0, logged_at=t0),
        point("loss", 0.5, 1, logged_at=t0 + timedelta(seconds=1)),
        point("accuracy", 0.75, None, logged_at=t0 + timedelta(seconds=2), artifact_id=model.id),
    ]
    outputs = {"parameters": {"best": 0.5}, "artifacts": {"model": model.id, "report": report.id}}

    store.tasks.finish_task_run(
        task, T.SUCCEEDED, outputs=outputs, artifacts=[model, report], metrics=metrics, exit_code=0
    )

    done = store.tasks.get_task_run(task.id)
    assert (done.status, done.outputs, done.exit_code, done.error) == (
        T.SUCCEEDED,
        outputs,
        0,
        None,
    )
    assert done.started_at == task.started_at
    assert_utc(done.finished_at)
    assert done.finished_at >= done.started_at  # type: ignore[operator]

    got = store.lineage.get_artifact(model.id)
    assert (got.run_id, got.task_run_id, got.name, got.type) == (
        run.id,
        task.id,
        "model",
        "system.Model",
    )
    assert (got.uri, got.digest, got.size, got.metadata) == (
        "/a/model",
        "sha256:m",
        2048,
        {"framework": "x"},
    )
    assert_utc(got.created_at)
    assert store.lineage.get_artifact(report.id).metadata == {}
    assert store.lineage.producer(model.id) == done
    assert [
        (name, art.id, tr.id if tr else None)
        for art, tr, name in store.lineage.run_artifacts(run.id)
    ] == [
        ("model", model.id, task.id),
        ("report", report.id, task.id),
    ]
    assert store.lineage.metrics(run.id) == [("train", m) for m in metrics]


def test_finish_task_run_up_for_retry_keeps_the_retry_time(
    store: MetadataStore, run: RunRecord, start_task: StartTask
) -> None:
    task = start_task(run.id, "fit")
    retry_at = datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=2)))

    store.tasks.finish_task_run(task, T.UP_FOR_RETRY, exit_code=1, error="boom", retry_at=retry_at)

    done = store.tasks.get_task_run(task.id)
    assert (done.status, done.exit_code, done.error) == (T.UP_FOR_RETRY, 1, "boom")
    assert done.retry_at == retry_at
    assert_utc(done.retry_at)
    assert done.retry_at.hour == 5


def test_finish_task_run_from_queued(store: MetadataStore, run: RunRecord) -> None:
    task = add(store, run, "fit", T.QUEUED)

    store.tasks.finish_task_run(task, T.FAILED, error="could not start", current=T.QUEUED)

    done = store.tasks.get_task_run(task.id)
    assert (done.status, done.error, done.started_at) == (T.FAILED, "could not start", None)
    assert_utc(done.finished_at)


def test_finish_task_run_refuses_an_illegal_transition_and_writes_nothing(
    store: MetadataStore, run: RunRecord, start_task: StartTask, count_rows: CountRows
) -> None:
    task = start_task(run.id, "fit")

    with pytest.raises(IllegalTransition, match="from running to upstream_failed"):
        store.tasks.finish_task_run(
            task, T.UPSTREAM_FAILED, artifacts=[dataset()], metrics=[point("loss", 1.0)]
        )

    assert store.tasks.get_task_run(task.id) == task
    assert [count_rows(name) for name in WRITTEN_BY_FINISH] == [0, 0, 0]


def test_finishing_an_attempt_whose_status_is_stale_writes_nothing(
    store: MetadataStore, run: RunRecord, start_task: StartTask, count_rows: CountRows
) -> None:
    task = start_task(run.id, "fit")
    # Meanwhile the run was cancelled and another engine cancelled the attempt.
    store.tasks.update_task_run(task.id, T.RUNNING, T.CANCELLED, error="run cancelled")
    cancelled = store.tasks.get_task_run(task.id)

    with pytest.raises(NotFound, match=f"task attempt '{task.id}' is not running any more"):
        store.tasks.finish_task_run(
            task,
            T.SUCCEEDED,
            outputs={"artifacts": {"data": "x"}},
            artifacts=[dataset()],
            metrics=[point("loss", 0.1, 0)],
            exit_code=0,
        )

    assert store.tasks.get_task_run(task.id) == cancelled
    assert [count_rows(name) for name in WRITTEN_BY_FINISH] == [0, 0, 0]
    assert store.lineage.run_artifacts(run.id) == []
    assert store.lineage.metrics(run.id) == []


FAILURES: dict[str, tuple[Callable[[], list[MetricPoint]], type[Exception]]] = {
    # a metric that points at an artifact no one recorded: a foreign key violation,
    # raised by the last statement, after the attempt row and artifacts were written
    "dangling-metric-artifact": (
        lambda: [point("loss", 0.1, 0, artifact_id="no-such-artifact")],
        sa.exc.IntegrityError,
    ),
    # a naive datetime: refused while binding the metrics insert
    "naive-metric-time": (
        lambda: [point("loss", 0.1, 0, logged_at=datetime(2024, 1, 1))],
        sa.exc.StatementError,
    ),
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_finish_that_fails_midway_leaves_nothing_half_written(
    store: MetadataStore,
    run: RunRecord,
    start_task: StartTask,
    count_rows: CountRows,
    failure: str,
) -> None:
    task = start_task(run.id, "fit")
    bad_metrics, error = FAILURES[failure]

    with pytest.raises(error):
        store.tasks.finish_task_run(
            task,
            T.SUCCEEDED,
            outputs={"artifacts": {"data": "x"}},
            artifacts=[dataset()],
            metrics=bad_metrics(),
            exit_code=0,
        )

    assert store.tasks.get_task_run(task.id) == task, "the attempt row changed"
    assert [count_rows(name) for name in WRITTEN_BY_FINISH] == [0, 0, 0]
    # Nothing stuck: the same attempt can still be finished properly.
    store.tasks.finish_task_run(
        task, T.SUCCEEDED, artifacts=[dataset()], metrics=[point("loss", 0.1)]
    )
    assert store.tasks.get_task_run(task.id).status is T.SUCCEEDED
    assert [count_rows(name) for name in WRITTEN_BY_FINISH] == [1, 1, 1]


def test_a_finish_reusing_an_artifact_id_leaves_nothing_half_written(
    store: MetadataStore, run: RunRecord, start_task: StartTask, count_rows: CountRows
) -> None:
    first = start_task(run.id, "load")
    taken = dataset("data")
    store.tasks.finish_task_run(first, T.SUCCEEDED, artifacts=[taken])
    second = start_task(run.id, "fit")

    with pytest.raises(sa.exc.IntegrityError):
        store.tasks.finish_task_run(
            second,
            T.SUCCEEDED,
            artifacts=[dataset("fresh"), dataset("clash", id=taken.id)],
            metrics=[point("loss", 1.0)],
        )

    assert store.tasks.get_task_run(second.id) == second
    assert [count_rows(name) for name in WRITTEN_BY_FINISH] == [1, 1, 0]


# ---------------------------------------------------------------------- cache


def succeed(store: MetadataStore, task: TaskRunRecord, finished_at: datetime | None = None) -> None:
    """Finish ``task`` as succeeded, ``finished_at`` (default now)."""
    values = {"outputs": {"parameters": {"x": 1}}}
    if finished_at is not None:
        values["finished_at"] = finished_at  # type: ignore[assignment]
    store.tasks.update_task_run(task.id, T.RUNNING, T.SUCCEEDED, **values)


def test_find_cached_finds_a_succeeded_attempt_by_key(
    store: MetadataStore, run: RunRecord, start_task: StartTask
) -> None:
    task = start_task(run.id, "fit", cache_key="sha256:k")
    assert store.tasks.find_cached("sha256:k", None) is None  # still running
    succeed(store, task)

    hit = store.tasks.find_cached("sha256:k", None)
    assert hit == store.tasks.get_task_run(task.id)
    assert hit is not None and hit.outputs == {"parameters": {"x": 1}}
    assert store.tasks.find_cached("sha256:other", None) is None


@pytest.mark.parametrize(
    "status",
    [s for s in TaskStatus if s is not T.SUCCEEDED],
    ids=str,
)
def test_find_cached_returns_only_succeeded_attempts(
    store: MetadataStore, run: RunRecord, status: TaskStatus
) -> None:
    reach(store, run, "fit", status, cache_key="sha256:k")

    assert store.tasks.find_cached("sha256:k", None) is None


def test_find_cached_prefers_the_newest_success_and_skips_later_failures(
    store: MetadataStore, run: RunRecord, start_task: StartTask
) -> None:
    now = datetime.now(UTC)
    old = start_task(run.id, "a", cache_key="sha256:k")
    succeed(store, old, now - timedelta(hours=3))
    new = start_task(run.id, "b", cache_key="sha256:k")
    succeed(store, new, now - timedelta(minutes=5))
    failed = start_task(run.id, "c", cache_key="sha256:k")
    store.tasks.finish_task_run(failed, T.FAILED, error="x")
    add(store, run, "d", T.CACHED, cache_key="sha256:k", cached_from=new.id)

    hit = store.tasks.find_cached("sha256:k", None)
    assert hit is not None and hit.id == new.id


def test_find_cached_honours_the_ttl(
    store: MetadataStore, run: RunRecord, start_task: StartTask
) -> None:
    task = start_task(run.id, "fit", cache_key="sha256:k")
    succeed(store, task, datetime.now(UTC) - timedelta(hours=2))

    assert store.tasks.find_cached("sha256:k", 3600) is None
    assert store.tasks.find_cached("sha256:k", 0) is None
    hit = store.tasks.find_cached("sha256:k", 3 * 3600)
    assert hit is not None and hit.id == task.id
    hit = store.tasks.find_cached("sha256:k", None)
    assert hit is not None and hit.id == task.id


def test_find_cached_ttl_falls_back_to_an_older_fresh_enough_hit(
    store: MetadataStore, run: RunRecord, start_task: StartTask
) -> None:
    now = datetime.now(UTC)
    within = start_task(run.id, "a", cache_key="sha256:k")
    succeed(store, within, now - timedelta(minutes=50))
    recent = start_task(run.id, "b", cache_key="sha256:k")
    succeed(store, recent, now - timedelta(minutes=1))

    hit = store.tasks.find_cached("sha256:k", 3600)
    assert hit is not None and hit.id == recent.id
    assert store.tasks.find_cached("sha256:k", 30) is None


def test_find_cached_stays_in_its_namespace(
    store: MetadataStore,
    other_namespace: MetadataStore,
    run: RunRecord,
    start_task: StartTask,
) -> None:
    task = start_task(run.id, "fit", cache_key="sha256:k")
    succeed(store, task)

    assert store.tasks.find_cached("sha256:k", None) is not None
    assert other_namespace.tasks.find_cached("sha256:k", None) is None


# ---------------------------------------------------------------------- datetimes


def test_task_datetimes_come_back_aware_utc(
    store: MetadataStore, run: RunRecord, start_task: StartTask
) -> None:
    task = start_task(run.id, "fit")
    retry_at = datetime.now(UTC) + timedelta(minutes=3)
    store.tasks.finish_task_run(task, T.UP_FOR_RETRY, retry_at=retry_at, metrics=[point("m", 1.0)])

    for record in (store.tasks.get_task_run(task.id), *store.tasks.task_runs(run.id)):
        for value in (record.created_at, record.started_at, record.finished_at, record.retry_at):
            assert_utc(value)
    assert store.tasks.get_task_run(task.id).retry_at == retry_at
    assert_utc(store.lineage.metrics(run.id)[0][1].logged_at)


def test_a_time_in_another_zone_comes_back_as_the_same_instant_in_utc(
    store: MetadataStore, run: RunRecord, start_task: StartTask
) -> None:
    task = start_task(run.id, "fit")
    india = timezone(timedelta(hours=5, minutes=30))
    logged = datetime(2024, 2, 29, 23, 45, 1, 654321, tzinfo=india)

    store.tasks.finish_task_run(task, T.SUCCEEDED, metrics=[point("m", 1.0, 3, logged_at=logged)])

    [(path, got)] = store.lineage.metrics(run.id)
    assert path == "fit"
    assert got.logged_at == logged
    assert got.logged_at.utcoffset() == timedelta(0)
    assert (got.logged_at.hour, got.logged_at.minute, got.logged_at.microsecond) == (
        18,
        15,
        654321,
    )
