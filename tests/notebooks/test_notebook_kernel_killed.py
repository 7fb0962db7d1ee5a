"""A kernel killed while ``headwater.run`` drives a pipeline defined in its cells: the
run is resumed from a shell with ``headwater resume``, from the code captured out of the
cells (the kernel and its cells are gone), without running finished tasks again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jupyter_client.manager import KernelManager

from headwater.engine import Workspace
from headwater.states import RunStatus, TaskStatus

CELLS = """\
import headwater as hw
from headwater import component, pipeline

MARKS = {marks!r}

@component
def first() -> int:
    with open(MARKS + "/first.log", "a") as f:
        f.write("ran\\n")
    return 20

@component
def second(x: int) -> int:
    import time
    with open(MARKS + "/second.log", "a") as f:
        f.write("started\\n")
    time.sleep({pause})
    return x + 1

@pipeline
def in_cells():
    second(x=first().output)

hw.run(in_cells)
"""


def _wait_for(ws: Workspace, path: str, status: TaskStatus, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in ws.store.runs.list_runs(pipeline="in_cells"):
            for task in ws.store.tasks.task_runs(run.id):
                if task.path == path and task.status is status:
                    return run.id
        time.sleep(0.1)
    raise AssertionError(f"task {path} never became {status}")


def test_a_run_whose_kernel_was_killed_is_resumed_from_its_captured_cells(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, marks = tmp_path / "home", tmp_path / "marks"
    marks.mkdir()
    env = {**os.environ, "HEADWATER_HOME": str(home), "HEADWATER_SERVER": ""}
    kernel = KernelManager(kernel_name="python3")
    kernel.start_kernel(env=env, cwd=str(tmp_path))
    client = kernel.client()
    client.start_channels()
    monkeypatch.setenv("HEADWATER_HOME", str(home))
    try:
        client.wait_for_ready(timeout=120)
        client.execute(CELLS.format(marks=str(marks), pause=3))
        ws = Workspace.open()
        run_id = _wait_for(ws, "second", TaskStatus.RUNNING)
        # SIGKILL: nothing of the kernel is left to finish the run.
        os.kill(kernel.provisioner.process.pid, signal.SIGKILL)  # type: ignore[union-attr]
        kernel.provisioner.process.wait()  # type: ignore[union-attr]
    finally:
        client.stop_channels()
        if kernel.is_alive():
            kernel.shutdown_kernel(now=True)
        kernel.cleanup_resources()
    assert ws.store.runs.get_run(run_id).status is RunStatus.RUNNING

    done = subprocess.run(
        [sys.executable, "-c", "from headwater.cli import run; run()", "resume", run_id],
        cwd=tmp_path,
        env={**env, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert ws.store.runs.get_run(run_id).status is RunStatus.SUCCEEDED
    tasks = {t.path: t for t in ws.store.tasks.task_runs(run_id) if t.cleared_at is None}
    assert tasks["second"].outputs["parameters"]["output"] == 21
    assert (marks / "first.log").read_text().splitlines() == ["ran"]  # not run again
    ws.close()
