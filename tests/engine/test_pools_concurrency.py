"""Pools, priorities and max_active_tasks, on real runs of the local executor.

What ran at once is read from the attempts' ``started_at``/``finished_at`` in the store,
never from how long anything took. Where a limit must be shown to be what stops tasks
overlapping, the same pipeline also runs with room to spare and its tasks meet at a
rendezvous, which they can only reach together.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import concurrency_flow as flow
import pytest
from engine_helpers import wait_for

import headwater
from headwater.engine import Engine, Workspace, create_run, execute_run
from headwater.scheduler import Runner
from headwater.sdk import compile_root
from headwater.states import RunStatus, TaskStatus
from headwater.store import RunRecord, TaskRunRecord

PIPELINES = Path(flow.__file__).resolve().parent


def _spans(rows: list[TaskRunRecord]) -> list[tuple[Any, Any]]:
    spans = [(r.started_at, r.finished_at) for r in rows if r.started_at is not None]
    assert all(end is not None for _, end in spans), "an attempt never finished"
    return spans


def max_overlap(rows: list[TaskRunRecord]) -> int:
    """The most attempts recorded as running at one instant."""
    events = sorted([(s, 1) for s, _ in _spans(rows)] + [(e, -1) for _, e in _spans(rows)])
    best = now = 0
    for _, step in events:  # at the same instant an end (-1) sorts before a start
        now += step
        best = max(best, now)
    return best


def started_order(rows: list[TaskRunRecord]) -> list[str]:
    ran = sorted((r for r in rows if r.started_at is not None), key=lambda r: r.started_at)
    return [r.path for r in ran]


MakeRunner = Callable[..., Runner]


@pytest.fixture
def runner(workspace: Workspace) -> Iterator[MakeRunner]:
    """``runner(**options)``: a scheduler's runner in this process, closed after the test."""
    made: list[Runner] = []

    def make(**kwargs: Any) -> Runner:
        made.append(Runner(workspace, stale_after=60, **kwargs))
        return made[-1]

    yield make
    for r in made:
        r.wait(30)
        r.close()


def queue(ws: Workspace, pipeline: Any, **params: Any) -> RunRecord:
    """A run left for a scheduler to drive (as the API or a schedule creates one)."""
    with compile_root(str(PIPELINES)):
        spec = pipeline.compile()
    return create_run(ws, spec, params, source_root=str(PIPELINES), trigger="api", owner="")


def drive(runner: Runner, *runs: RunRecord) -> None:
    assert sorted(runner.poll()) == sorted(r.id for r in runs)
    runner.wait(60)
    assert runner.running() == [], "a run did not finish"


def all_attempts(ws: Workspace, *runs: RunRecord) -> list[TaskRunRecord]:
    return [row for r in runs for row in ws.store.tasks.task_runs(r.id)]


# --------------------------------------------------------------------------- pools


def test_a_one_slot_pool_runs_its_tasks_one_at_a_time(workspace: Workspace, tmp_path: Path) -> None:
    workspace.store.pools.set_pool("narrow", 1)
    run = headwater.run(flow.pools_fanout, marker_dir=str(tmp_path / "m"), max_parallel=4)

    assert run.status is RunStatus.SUCCEEDED, run.tasks
    rows = [r for r in run.attempts if r.task == "hold"]
    assert len(rows) == 3 and all(r.status is TaskStatus.SUCCEEDED for r in rows)
    assert all(r.pool == "narrow" and r.pool_slots == 1 for r in rows)
    assert max_overlap(rows) == 1
    assert workspace.store.pools.get_pool("narrow").occupied == 0  # every slot given back


def test_with_enough_slots_the_same_tasks_run_together(
    workspace: Workspace, tmp_path: Path
) -> None:
    # The control for the test above: three slots let all three meet at the rendezvous.
    workspace.store.pools.set_pool("narrow", 3)
    run = headwater.run(
        flow.pools_fanout, marker_dir=str(tmp_path / "m"), wait_for=3, max_parallel=4
    )

    assert run.status is RunStatus.SUCCEEDED, run.tasks
    assert max_overlap([r for r in run.attempts if r.task == "hold"]) == 3


@pytest.mark.parametrize(("slots", "together"), [(3, 1), (4, 2)])
def test_tasks_taking_two_slots_share_a_pool_as_far_as_its_slots_go(
    workspace: Workspace, tmp_path: Path, slots: int, together: int
) -> None:
    workspace.store.pools.set_pool("narrow", slots)
    run = headwater.run(
        flow.pools_double,
        marker_dir=str(tmp_path / "m"),
        wait_for=together if together > 1 else 0,
        max_parallel=4,
    )

    assert run.status is RunStatus.SUCCEEDED, run.tasks
    rows = [r for r in run.attempts if r.task == "hold"]
    assert all(r.pool_slots == 2 for r in rows)
    assert max_overlap(rows) == together


def test_a_task_in_a_pool_that_does_not_exist_fails_saying_how_to_create_it() -> None:
    run = headwater.run(flow.pools_missing)

    assert run.status is RunStatus.FAILED
    pooled, unpooled = run.tasks["nap"], run.tasks["nap-2"]
    assert pooled.status is TaskStatus.FAILED
    assert pooled.started_at is None, "the task ran without a slot"
    assert "pool 'no-such-pool' does not exist" in (pooled.error or "")
    assert "headwater pools set no-such-pool --slots N" in (pooled.error or "")
    assert unpooled.status is TaskStatus.SUCCEEDED
    assert "no-such-pool" in (run.record.error or "")


@pytest.mark.parametrize(("default_slots", "together"), [(1, 1), (None, 3)])
def test_the_default_pool_limits_tasks_that_name_no_pool(
    workspace: Workspace, tmp_path: Path, default_slots: int | None, together: int
) -> None:
    workspace.store.pools.set_pool("default_pool", default_slots)
    run = headwater.run(
        flow.pools_plain,
        marker_dir=str(tmp_path / "m"),
        wait_for=together if together > 1 else 0,
        max_parallel=4,
    )

    assert run.status is RunStatus.SUCCEEDED, run.tasks
    rows = [r for r in run.attempts if r.task == "loose"]
    assert max_overlap(rows) == together
    if default_slots is not None:
        assert all(r.pool == "default_pool" for r in rows)


# --------------------------------------------------------------------------- priorities


def test_waiting_tasks_of_one_run_start_highest_priority_first(workspace: Workspace) -> None:
    workspace.store.pools.set_pool("single", 1)
    run = headwater.run(flow.pools_ranked, max_parallel=4)

    assert run.status is RunStatus.SUCCEEDED, run.tasks
    labels = {path: run.outputs(path)["output"] for path in ("nap", "nap-2", "nap-3")}
    order = [labels[p] for p in started_order(run.attempts)]
    assert order == ["high", "mid", "low"]  # declared low, mid, high


def test_a_waiting_task_gives_way_to_a_higher_priority_one_of_another_run(
    workspace: Workspace, tmp_path: Path, runner: MakeRunner
) -> None:
    workspace.store.pools.set_pool("single", 1)
    release = tmp_path / "release"
    drives: Runner = runner()
    blocker = queue(workspace, flow.pools_blocker, release=str(release))
    assert drives.poll() == [blocker.id]
    wait_for(
        lambda: (
            [r.status for r in workspace.store.tasks.task_runs(blocker.id)] == [TaskStatus.RUNNING]
        ),
        20,
        "the blocker to hold the only slot",
    )
    low = queue(workspace, flow.pools_low)
    high = queue(workspace, flow.pools_high)  # created after low: it asks for the slot later
    assert sorted(drives.poll()) == sorted([low.id, high.id])
    wait_for(
        lambda: [r.status for r in all_attempts(workspace, low, high)] == [TaskStatus.WAITING] * 2,
        20,
        "both runs' tasks to wait for the slot",
    )

    release.write_text("go")
    drives.wait(60)

    for r in (blocker, low, high):
        assert workspace.store.runs.get_run(r.id).status is RunStatus.SUCCEEDED
    (first,) = workspace.store.tasks.task_runs(high.id)
    (second,) = workspace.store.tasks.task_runs(low.id)
    (gate,) = workspace.store.tasks.task_runs(blocker.id)
    assert gate.finished_at is not None and first.started_at is not None
    assert gate.finished_at <= first.started_at
    assert second.started_at is not None and first.finished_at is not None
    assert first.finished_at <= second.started_at


# --------------------------------------------------------------------------- max_active_tasks


def test_max_active_tasks_of_a_pipeline_holds_across_its_runs(
    workspace: Workspace, runner: MakeRunner
) -> None:
    runs = [queue(workspace, flow.limited_pair), queue(workspace, flow.limited_pair)]
    drive(runner(), *runs)

    assert [workspace.store.runs.get_run(r.id).status for r in runs] == [RunStatus.SUCCEEDED] * 2
    rows = all_attempts(workspace, *runs)
    assert len(rows) == 4
    assert max_overlap(rows) == 1


def test_without_a_limit_tasks_of_two_runs_run_together(
    workspace: Workspace, runner: MakeRunner, tmp_path: Path
) -> None:
    # The control for the limits: with none, a task of each run meets the other's.
    marker_dir = str(tmp_path / "m")
    runs = [
        queue(workspace, flow.pools_plain, marker_dir=marker_dir, wait_for=2, items=[i])
        for i in (0, 1)
    ]
    drive(runner(), *runs)

    rows = all_attempts(workspace, *runs)
    assert [r.status for r in rows] == [TaskStatus.SUCCEEDED] * 2
    assert all(r.pool is None for r in rows)  # nothing made them wait
    assert max_overlap(rows) == 2


@pytest.mark.parametrize("how", ["runner", "environment"])
def test_a_global_task_limit_holds_across_pipelines(
    workspace: Workspace, runner: MakeRunner, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "environment":
        monkeypatch.setenv("HEADWATER_MAX_ACTIVE_TASKS", "1")
        drives = runner()
    else:
        drives = runner(max_active_tasks=1)
    runs = [queue(workspace, flow.free_pair), queue(workspace, flow.nap_twice)]
    drive(drives, *runs)

    assert [workspace.store.runs.get_run(r.id).status for r in runs] == [RunStatus.SUCCEEDED] * 2
    rows = all_attempts(workspace, *runs)
    assert len(rows) == 4
    assert max_overlap(rows) == 1


def test_max_active_tasks_of_one_lets_a_nested_pipeline_run(workspace: Workspace) -> None:
    with compile_root(str(PIPELINES)):
        spec = flow.limited_nested.compile()
    run = create_run(workspace, spec, {}, source_root=str(PIPELINES))
    engines: list[Engine] = []
    outcome: list[RunStatus] = []
    thread = threading.Thread(
        target=lambda: outcome.append(execute_run(workspace, run, engine_hook=engines.append)),
        daemon=True,
    )
    thread.start()
    thread.join(5)  # the two inner naps take a fraction of a second
    if thread.is_alive():  # stuck: stop it, so the test ends either way
        engines[0].request_cancel()
        thread.join(15)

    rows = {r.path: r.status for r in workspace.store.tasks.task_runs(run.id)}
    assert outcome == [RunStatus.SUCCEEDED], rows
    assert rows["nap_twice.nap-2"] is TaskStatus.SUCCEEDED


def test_a_task_wanting_more_slots_than_its_pool_has_fails_saying_so(
    workspace: Workspace, tmp_path: Path
) -> None:
    workspace.store.pools.set_pool("narrow", 1)  # pools_double's tasks take 2 slots each
    run = headwater.run(flow.pools_double, marker_dir=str(tmp_path / "m"), wait_for=0)

    assert run.status is RunStatus.FAILED
    rows = [r for r in run.attempts if r.task == "hold"]
    assert rows and all(r.status is TaskStatus.FAILED and r.started_at is None for r in rows)
    assert "needs 2 slots but pool 'narrow' has 1" in (rows[0].error or "")
    assert "headwater pools set narrow --slots 2" in (rows[0].error or "")
