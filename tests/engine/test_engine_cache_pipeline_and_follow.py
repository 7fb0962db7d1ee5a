"""Caching turned off for a whole pipeline, and following a running task's log."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import engine_cache

import headwater
from headwater.engine import Workspace
from headwater.states import TaskStatus


def test_pipeline_level_cache_off_runs_every_task_every_time(tmp_path: Path) -> None:
    logs = str(tmp_path / "calls")
    os.makedirs(logs)
    for _ in range(2):
        run = headwater.run(engine_cache.engine_cache_off_for_pipeline, log_dir=logs)
        assert run.tasks["cached"].status is TaskStatus.SUCCEEDED
    assert engine_cache.executions(logs, "cached") == 2


FOLLOWED = """
import time
from headwater import component, pipeline


@component
def talk(n: int = 3) -> int:
    for i in range(n):
        print(f"line {i}", flush=True)
        time.sleep(0.4)
    return n


@pipeline
def followed():
    talk()
"""


def test_tasks_logs_follow_prints_lines_as_they_come_and_stops_at_the_end(
    tmp_path: Path,
) -> None:
    cli = str(Path(sys.executable).with_name("headwater"))
    (tmp_path / "followed_pipeline.py").write_text(FOLLOWED)
    run = subprocess.Popen(
        [cli, "run", "followed_pipeline.py"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ws = Workspace.open()
        deadline = time.time() + 30
        run_id = None
        while time.time() < deadline:
            runs = ws.store.runs.list_runs(limit=1)
            if runs and any(t.status == "running" for t in ws.store.tasks.task_runs(runs[0].id)):
                run_id = runs[0].id
                break
            time.sleep(0.05)
        assert run_id is not None, "the task never started"
        started = time.time()
        follow = subprocess.run(
            [cli, "tasks", "logs", run_id, "talk", "--follow"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
        took = time.time() - started
    finally:
        run.wait(timeout=30)
    assert follow.returncode == 0, follow.stderr
    assert follow.stdout.splitlines() == ["line 0", "line 1", "line 2"]
    # It waited for the lines still to come rather than printing what was there and leaving.
    assert took > 0.4


def test_tasks_logs_follow_keeps_following_an_attempt_waiting_for_a_slot(
    tmp_path: Path, workspace: Workspace
) -> None:
    """A waiting attempt has not ended: following its log goes on until it does (it used
    to stop at once, as if the attempt were over)."""
    import select

    store = workspace.store
    version = store.pipelines.register_version("waits", None, "sha256:w", {"name": "w"}, None)
    run = store.runs.create_run(version, {})
    log = tmp_path / "talk.log"
    log.write_text("line 0\n")
    attempt = store.tasks.add_task_run(
        run.id, "talk", "talk", "talk", 1, TaskStatus.WAITING, log_path=str(log), pool="p"
    )
    cli = str(Path(sys.executable).with_name("headwater"))
    follow = subprocess.Popen(
        [cli, "tasks", "logs", run.id, "talk", "--follow"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follow.stdout is not None
        ready, _, _ = select.select([follow.stdout], [], [], 60)
        assert ready, "the log was not printed"
        assert follow.stdout.readline() == "line 0\n"
        # Give the follower time to look at the attempt (it polls every 0.2 s) while it is
        # still waiting: it must not take that for an end.
        with contextlib.suppress(subprocess.TimeoutExpired):
            follow.wait(timeout=2)
        assert follow.poll() is None, "it stopped following an attempt waiting for a slot"
        # Granted a slot, run and finished only after the follower read what was there.
        with log.open("a") as f:
            f.write("line 1\n")
        store.tasks.update_task_run(attempt.id, TaskStatus.WAITING, TaskStatus.QUEUED)
        store.tasks.update_task_run(attempt.id, TaskStatus.QUEUED, TaskStatus.RUNNING, pid=1)
        with log.open("a") as f:
            f.write("line 2\n")
        store.tasks.finish_task_run(store.tasks.get_task_run(attempt.id), TaskStatus.SUCCEEDED)
        rest, errors = follow.communicate(timeout=60)
    finally:
        follow.kill()
        follow.wait()
    assert follow.returncode == 0, errors
    assert rest.splitlines() == ["line 1", "line 2"]
