"""Retrying failed tasks and clearing tasks of ended runs, then driving the run again.

Each task counts its executions in a file, so "ran again" is told apart from "kept its
earlier result". Unless a test is about caching, runs are made with caching off: a
cleared task must run again because it was cleared, not because its inputs changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import headwater
from headwater.engine import Run, Workspace, create_run, execute_run
from headwater.errors import Conflict, HeadwaterError
from headwater.scheduler import Runner, clear, retry_failed
from headwater.sdk import compile_root, load_module
from headwater.states import RunStatus, TaskStatus
from headwater.store import TaskRunRecord

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
flow: Any = load_module(PIPELINES / "clear_flow.py")

T = TaskStatus


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    for name in ("HEADWATER_DATABASE_URL", "HEADWATER_ARTIFACT_ROOT"):
        monkeypatch.delenv(name, raising=False)
    opened = Workspace.open()
    yield opened
    opened.close()


@pytest.fixture
def counters(tmp_path: Path) -> Path:
    folder = tmp_path / "counters"
    folder.mkdir()
    return folder


def counts(folder: Path) -> dict[str, int]:
    """How many times each counted task ran."""
    return {p.name.removesuffix(".count"): len(p.read_text()) for p in folder.glob("*.count")}


def rerun(ws: Workspace, run_id: str) -> Run:
    """Drive a re-queued run to its end, as another engine than the one that first ran it."""
    execute_run(ws, ws.store.runs.get_run(run_id), owner="rerunner")
    return Run(ws, run_id)


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.02)


def history(run: Run, path: str) -> list[tuple[int, TaskStatus, bool]]:
    """Every attempt of ``path``: (attempt, status, cleared)."""
    rows: list[TaskRunRecord] = [a for a in run.attempts if a.path == path]
    return [(r.attempt, r.status, r.cleared_at is not None) for r in rows]


# --------------------------------------------------------------------------- retry_failed


def test_retry_failed_reruns_the_failed_task_and_what_it_failed_keeping_old_attempts(
    ws: Workspace, counters: Path
) -> None:
    run = headwater.run(flow.clear_chain, counter_dir=str(counters))
    assert run.status is RunStatus.FAILED
    assert {p: r.status for p, r in run.tasks.items()} == {
        "step": T.SUCCEEDED,
        "check": T.FAILED,
        "step-2": T.UPSTREAM_FAILED,
        "step-3": T.SUCCEEDED,
    }

    (counters / "ok").touch()
    assert retry_failed(ws, run.id) == ["check", "step-2"]
    assert ws.store.runs.get_run(run.id).status is RunStatus.QUEUED

    again = rerun(ws, run.id)
    assert again.status is RunStatus.SUCCEEDED, again.tasks
    assert history(again, "check") == [(1, T.FAILED, True), (2, T.SUCCEEDED, False)]
    assert history(again, "step-2") == [(1, T.UPSTREAM_FAILED, True), (2, T.SUCCEEDED, False)]
    assert history(again, "step") == [(1, T.SUCCEEDED, False)]
    assert history(again, "step-3") == [(1, T.SUCCEEDED, False)]
    assert counts(counters) == {"a": 1, "check": 2, "c": 1, "d": 1}
    assert again.outputs("step-2")["output"] == 3

    with pytest.raises(HeadwaterError, match="has no failed task to retry"):
        retry_failed(ws, run.id)


# --------------------------------------------------------------------------- clear


@pytest.mark.parametrize(
    ("downstream", "cleared", "ran"),
    [
        (True, ["check", "step-2"], {"a": 1, "check": 2, "c": 2, "d": 1}),
        (False, ["check"], {"a": 1, "check": 2, "c": 1, "d": 1}),
    ],
)
def test_clear_reruns_exactly_the_task_and_with_downstream_what_depends_on_it(
    ws: Workspace, counters: Path, downstream: bool, cleared: list[str], ran: dict[str, int]
) -> None:
    (counters / "ok").touch()
    run = headwater.run(flow.clear_chain, counter_dir=str(counters), cache=False)
    assert run.status is RunStatus.SUCCEEDED

    assert clear(ws, run.id, ["check"], downstream=downstream) == cleared
    again = rerun(ws, run.id)

    assert again.status is RunStatus.SUCCEEDED, again.tasks
    assert counts(counters) == ran
    for path in cleared:
        assert history(again, path) == [(1, T.SUCCEEDED, True), (2, T.SUCCEEDED, False)]
    for path in {"step", "check", "step-2", "step-3"} - set(cleared):
        assert history(again, path) == [(1, T.SUCCEEDED, False)]


def test_a_cleared_task_runs_again_with_caching_on(ws: Workspace, counters: Path) -> None:
    (counters / "ok").touch()
    run = headwater.run(flow.clear_chain, counter_dir=str(counters))
    assert run.status is RunStatus.SUCCEEDED

    clear(ws, run.id, ["check"])
    again = rerun(ws, run.id)

    assert again.status is RunStatus.SUCCEEDED
    assert history(again, "check") == [(1, T.SUCCEEDED, True), (2, T.SUCCEEDED, False)]
    assert counts(counters)["check"] == 2


def test_clearing_a_run_that_is_still_running_is_a_conflict(
    ws: Workspace, counters: Path, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    with compile_root(str(PIPELINES)):
        spec = flow.clear_gated.compile()
    record = create_run(
        ws,
        spec,
        {"release": str(release), "counter_dir": str(counters)},
        source_root=str(PIPELINES),
        trigger="api",
        owner="",
    )
    runner = Runner(ws, stale_after=60)
    try:
        assert runner.poll() == [record.id]
        wait_for(
            lambda: (
                {r.path: r.status for r in ws.store.tasks.task_runs(record.id)}
                == {"step": T.SUCCEEDED, "gate": T.RUNNING}
            ),
            20,
            "the gate to run after the first step",
        )
        with pytest.raises(Conflict, match="still running") as caught:
            clear(ws, record.id, ["step"])
        assert "wait for it to finish, or cancel it first" in (caught.value.hint or "")
        assert all(r.cleared_at is None for r in ws.store.tasks.task_runs(record.id))
        with pytest.raises(Conflict, match="still running") as caught:
            retry_failed(ws, record.id)
        assert "cancel it first" in (caught.value.hint or "")
    finally:
        release.touch()
        runner.wait(30)
        runner.close()
    assert ws.store.runs.get_run(record.id).status is RunStatus.SUCCEEDED
    assert counts(counters) == {"a": 1}


def test_clearing_a_task_of_one_parallel_for_iteration_reruns_it_and_the_fan_in(
    ws: Workspace, counters: Path
) -> None:
    run = headwater.run(flow.clear_loop, counter_dir=str(counters), cache=False)
    assert run.status is RunStatus.SUCCEEDED
    assert run.outputs("gather")["output"] == [0, 20, 40]

    cleared = clear(ws, run.id, ["loop-1[1].tally"])
    assert {"loop-1[1].tally", "gather"} <= set(cleared)
    assert not {"loop-1[0].tally", "loop-1[2].tally"} & set(cleared)
    again = rerun(ws, run.id)

    assert again.status is RunStatus.SUCCEEDED, again.tasks
    ran = counts(counters)
    assert (ran["tally-0"], ran["tally-1"], ran["tally-2"], ran["gather"]) == (1, 2, 1, 2)
    assert history(again, "loop-1[1].tally") == [(1, T.SUCCEEDED, True), (2, T.SUCCEEDED, False)]
    assert history(again, "loop-1[0].tally") == [(1, T.SUCCEEDED, False)]
    assert again.outputs("loop-1[1].tally")["output"] == 11  # its second execution


def test_clearing_a_task_in_an_iteration_also_reruns_what_follows_it_there(
    ws: Workspace, counters: Path
) -> None:
    run = headwater.run(flow.clear_loop, counter_dir=str(counters), cache=False)
    assert run.status is RunStatus.SUCCEEDED

    cleared = clear(ws, run.id, ["loop-1[1].tally"])
    again = rerun(ws, run.id)

    assert again.status is RunStatus.SUCCEEDED
    assert again.outputs("gather")["output"] == [0, 22, 40]  # 11 * 2, not the old 10 * 2
    assert counts(counters)["double-1"] == 2
    assert "loop-1[1].double" in cleared


def test_clearing_a_task_inside_a_nested_pipeline_reruns_it_and_what_follows_the_pipeline(
    ws: Workspace, counters: Path
) -> None:
    run = headwater.run(flow.clear_nested, counter_dir=str(counters), cache=False)
    assert run.status is RunStatus.SUCCEEDED

    cleared = clear(ws, run.id, ["clear_inner.tally"])
    assert {"clear_inner.tally", "clear_inner", "step-2"} <= set(cleared)
    assert "step" not in cleared
    again = rerun(ws, run.id)

    assert again.status is RunStatus.SUCCEEDED, again.tasks
    ran = counts(counters)
    assert (ran["before"], ran["tally-1"], ran["after"]) == (1, 2, 2)
    assert history(again, "clear_inner") == [(1, T.SUCCEEDED, True), (2, T.SUCCEEDED, False)]
    assert history(again, "step") == [(1, T.SUCCEEDED, False)]
    assert again.outputs("clear_inner.tally")["output"] == 11


def test_clearing_a_task_inside_a_nested_pipeline_reruns_what_follows_it_inside(
    ws: Workspace, counters: Path
) -> None:
    run = headwater.run(flow.clear_nested, counter_dir=str(counters), cache=False)
    assert run.status is RunStatus.SUCCEEDED

    cleared = clear(ws, run.id, ["clear_inner.tally"])
    again = rerun(ws, run.id)

    assert again.status is RunStatus.SUCCEEDED
    assert again.outputs("clear_inner")["output"] == 22  # 11 * 2, not the old 10 * 2
    assert again.outputs("step-2")["output"] == 23
    assert counts(counters)["double-1"] == 2
    assert "clear_inner.double" in cleared


def test_clearing_a_nested_pipeline_task_reruns_the_tasks_inside_it(
    ws: Workspace, counters: Path
) -> None:
    run = headwater.run(flow.clear_nested, counter_dir=str(counters), cache=False)
    assert run.status is RunStatus.SUCCEEDED

    cleared = clear(ws, run.id, ["clear_inner"])
    again = rerun(ws, run.id)

    assert again.status is RunStatus.SUCCEEDED
    ran = counts(counters)
    assert (ran["tally-1"], ran["double-1"], ran["after"]) == (2, 2, 2)
    assert again.outputs("step-2")["output"] == 23
    assert {"clear_inner.tally", "clear_inner.double"} <= set(cleared)
