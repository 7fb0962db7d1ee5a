"""An engine whose run another engine adopted stops at its next heartbeat and kills its
tasks; the adopting engine finishes the run, running the lost attempt again."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import ownership_flow
import pytest
from engine_helpers import alive, read_pid, wait_for

from headwater.engine import Run, Workspace, create_run, execute_run
from headwater.errors import LostRun
from headwater.scheduler import Runner
from headwater.sdk import compile_root
from headwater.states import RunStatus, TaskStatus

PIPELINES = Path(ownership_flow.__file__).resolve().parent


def test_an_engine_that_lost_its_run_stops_kills_its_task_and_the_new_owner_finishes_it(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWATER_HEARTBEAT_SECONDS", "0.05")  # read when the engine is made
    pid_file, release = tmp_path / "linger.pid", tmp_path / "release"
    with compile_root(str(PIPELINES)):
        spec = ownership_flow.ownership_linger.compile()
    params = {"pid_file": str(pid_file), "release": str(release)}
    run = create_run(workspace, spec, params, source_root=str(PIPELINES), owner="engine-a")
    raised: list[BaseException] = []

    def drive() -> None:
        try:
            execute_run(workspace, run, owner="engine-a")
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    task_pid = None
    try:
        wait_for(lambda: pid_file.exists() or raised, 20, "the task to start")
        assert not raised, raised
        task_pid = read_pid(pid_file)
        assert alive(task_pid)

        later = datetime.now(UTC) + timedelta(hours=1)  # as if engine-a had gone silent
        assert workspace.store.control.claim_run(run.id, "engine-b", stale_before=later)
        thread.join(15)
        assert not thread.is_alive(), "engine-a kept driving a run it no longer owns"
        (error,) = raised
        assert isinstance(error, LostRun), repr(error)
        assert run.id in str(error) and "adopted by another engine" in str(error)
        wait_for(lambda: not alive(task_pid), 5, f"the lost task's process {task_pid} to die")
    finally:
        if task_pid is not None and alive(task_pid):
            with contextlib.suppress(OSError):
                os.kill(task_pid, signal.SIGKILL)
        thread.join(5)

    lost = workspace.store.runs.get_run(run.id)
    assert lost.engine_id == "engine-b" and lost.status is RunStatus.RUNNING

    release.touch()
    assert execute_run(workspace, lost, owner="engine-b") is RunStatus.SUCCEEDED
    done = Run(workspace, run.id)
    attempts = [(a.attempt, a.status) for a in done.attempts if a.path == "linger"]
    assert attempts == [(1, TaskStatus.FAILED), (2, TaskStatus.SUCCEEDED)]
    assert "engine driving this attempt stopped" in (done.attempts[0].error or "")
    assert done.record.engine_id == "engine-b"


def test_a_scheduler_adopts_a_run_only_once_its_engine_has_been_silent_too_long(
    workspace: Workspace, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    release.touch()
    with compile_root(str(PIPELINES)):
        spec = ownership_flow.ownership_linger.compile()
    params = {"pid_file": str(tmp_path / "pid"), "release": str(release)}
    run = create_run(
        workspace, spec, params, source_root=str(PIPELINES), trigger="api", owner="gone"
    )
    runner = Runner(workspace, stale_after=30)
    try:
        assert runner.poll() == []  # its engine's heartbeat is fresh
        assert runner.poll(now=datetime.now(UTC) + timedelta(seconds=31)) == [run.id]
        runner.wait(30)
    finally:
        runner.close()
    done = workspace.store.runs.get_run(run.id)
    assert done.status is RunStatus.SUCCEEDED and done.engine_id == runner.owner
