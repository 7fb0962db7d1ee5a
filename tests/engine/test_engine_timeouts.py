"""A task past its timeout is killed with its whole process tree, even if it ignores SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import engine_failures
from engine_helpers import alive, attempts, read_pid, wait_for

import headwater
from headwater.states import RunStatus, TaskStatus


def test_a_timed_out_task_and_its_child_are_killed_even_when_they_ignore_sigterm(
    tmp_path: Path,
) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    started = time.monotonic()
    run = headwater.run(engine_failures.engine_timeout, pid_dir=str(pids))
    took = time.monotonic() - started

    assert run.status is RunStatus.FAILED
    (row,) = attempts(run, "stubborn")
    assert row.status is TaskStatus.FAILED
    assert "timed out" in (row.error or "")
    assert took < 10, f"the timed-out run took {took:.1f}s to end"

    task_pid, child_pid = read_pid(pids / "task.pid"), read_pid(pids / "child.pid")
    try:
        assert row.pid == task_pid
        # The orphaned child is reaped by init; give it a moment.
        wait_for(lambda: not alive(task_pid), 2, f"task process {task_pid} to be gone")
        wait_for(lambda: not alive(child_pid), 2, f"the task's child {child_pid} to be gone")
    finally:  # never leave a stray sleeper behind when the test fails
        for pid in (task_pid, child_pid):
            if alive(pid):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
