"""If/Elif/Else, ParallelFor with a parallelism cap, Collected, nested loops, exit handlers
and nested pipelines, at run time."""

from __future__ import annotations

from pathlib import Path

import engine_flow
import pytest
from engine_helpers import statuses

import headwater
from headwater.states import RunStatus

BRANCHES = {"high": "mark", "mid": "mark-2", "low": "mark-3"}


@pytest.mark.parametrize(
    ("value", "mode", "chosen"),
    [
        (20.0, "full", "high"),  # the If, on a task output
        (7.0, "full", "mid"),  # the Elif, on a task output and a parameter
        (7.0, "quick", "low"),  # the Else, because the parameter fails the Elif
        (1.0, "full", "low"),
    ],
)
def test_exactly_one_branch_of_an_if_elif_else_runs(value: float, mode: str, chosen: str) -> None:
    run = headwater.run(engine_flow.engine_branches, value=value, mode=mode)

    assert run.status is RunStatus.SUCCEEDED
    got = statuses(run)
    for branch, task in BRANCHES.items():
        assert got[task] == ("succeeded" if branch == chosen else "skipped"), got
    assert run.outputs(BRANCHES[chosen])["output"] == chosen


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals that hold one instant in common."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    best = now = 0
    for _, step in events:  # an end sorts before a start at the same instant
        now += step
        best = max(best, now)
    return best


def test_parallel_for_keeps_to_its_parallelism_and_collects_in_item_order(
    tmp_path: Path,
) -> None:
    stamps = tmp_path / "stamps"
    stamps.mkdir()
    run = headwater.run(engine_flow.engine_loop, stamp_dir=str(stamps), max_parallel=4)

    assert run.status is RunStatus.SUCCEEDED
    paths = [f"loop-1[{i}].timed" for i in range(6)]
    assert all(statuses(run)[p] == "succeeded" for p in paths), statuses(run)
    intervals = []
    for i in range(6):
        start, end = (float(x) for x in (stamps / f"{i}.stamp").read_text().split())
        intervals.append((start, end))
    overlap = _max_overlap(intervals)
    assert overlap <= 2, f"{overlap} iterations ran at once with parallelism=2"
    assert overlap > 1, "iterations never ran in parallel"
    assert run.outputs("gather")["output"] == [0, 10, 20, 30, 40, 50]


def test_nested_parallel_for_fans_in_one_level_at_a_time() -> None:
    run = headwater.run(engine_flow.engine_nested_loops, max_parallel=4)

    assert run.status is RunStatus.SUCCEEDED
    got = statuses(run)
    for i, a in enumerate([1, 2, 3]):
        assert run.outputs(f"loop-1[{i}].total")["output"] == a * 10 + a * 20
        for j, b in enumerate([10, 20]):
            path = f"loop-1[{i}].loop-2[{j}].multiply"
            assert got[path] == "succeeded", got
            assert run.outputs(path)["output"] == a * b
    assert run.outputs("gather")["output"] == [30, 60, 90]


@pytest.mark.parametrize("fail", [True, False])
def test_the_exit_task_gets_the_final_status_of_its_body(fail: bool) -> None:
    run = headwater.run(engine_flow.engine_exit_handler, fail=fail)

    got = statuses(run)
    assert got["report"] == "succeeded", got
    status = run.outputs("report")["output"]
    assert status["pipeline"] == "engine_exit_handler"
    assert status["run_id"] == run.id
    if fail:
        assert got["work-2"] == "failed"
        assert status["state"] == "failed"
        assert status["failed_tasks"] == ["work-2"]
        assert "work was told to fail" in status["error_message"]
        assert run.status is RunStatus.FAILED
    else:
        assert status["state"] == "succeeded"
        assert status["failed_tasks"] == []
        assert status["error_message"] is None
        assert run.status is RunStatus.SUCCEEDED


def test_a_nested_pipeline_passes_its_output_out() -> None:
    run = headwater.run(engine_flow.engine_outer, x=4)

    assert run.status is RunStatus.SUCCEEDED
    got = statuses(run)
    assert got["engine_inner.multiply"] == "succeeded", got
    assert run.outputs("engine_inner.multiply")["output"] == 8
    assert run.outputs("engine_inner")["output"] == 8
    assert run.outputs("multiply")["output"] == 40
