"""The local executor's warm worker: task processes forked ahead of need (spares), task
inputs handed over its pipe, and a worker started only once a task needs one."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import HERE, TASKS_MODULE, task_request, wait_gone

from headwater.executors import ExecEvent, LocalExecutor, TaskRequest


@pytest.fixture
def executor() -> Iterator[LocalExecutor]:
    ex = LocalExecutor(max_parallel=2)
    yield ex
    ex.close()


def _request(root: Path, name: str, function: str, arg: str = "", **options: object) -> TaskRequest:
    return task_request(root, name, TASKS_MODULE, function, arg, False, **options)


def _end(ex: LocalExecutor, task_id: str, within: float = 30.0) -> ExecEvent:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for ev in ex.events(1.0):
            if ev.id == task_id and ev.kind in ("exited", "lost"):
                return ev
    raise AssertionError(f"{task_id} did not end within {within}s")


def _spares(worker_pid: int, want: int, within: float = 30.0) -> list[int]:
    """The worker's children once it has ``want`` of them (its spares, when no task runs)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found: list[int] = []
        for thread in os.listdir(f"/proc/{worker_pid}/task"):
            with open(f"/proc/{worker_pid}/task/{thread}/children") as f:
                found += [int(p) for p in f.read().split()]
        if len(found) >= want:
            return found
        time.sleep(0.02)
    raise AssertionError(f"the worker did not fork {want} spare(s) within {within}s")


def test_no_worker_runs_until_one_is_needed(executor: LocalExecutor, tmp_path: Path) -> None:
    executor.start([(str(HERE), "conformance_preloaded", "conformance_preloaded.py")], [])
    assert executor.workers_started == 0

    request = _request(tmp_path, "first", "show_preloaded", str(tmp_path))
    executor.submit(request)
    assert _end(executor, "first").status == 0
    assert executor.workers_started == 1
    # Started by the task, it imported what it was told to before it forked the task.
    assert (tmp_path / "preloaded").read_text() == "True"


def test_a_worker_keeps_spare_processes_and_replaces_one_that_died(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    executor.warm()
    worker = executor._pools[""].worker
    assert worker is not None
    spares = _spares(worker.pid, 2)
    for pid in spares:
        os.kill(pid, signal.SIGKILL)
        assert wait_gone(pid)

    request = _request(tmp_path, "after", "succeed", "x")
    executor.submit(request)
    end = _end(executor, "after")
    assert end.status == 0, Path(request.log_path).read_text()
    assert end.pid not in spares
    assert "to stdout x" in Path(request.log_path).read_text()


def test_tasks_forked_after_a_preload_hold_it(executor: LocalExecutor, tmp_path: Path) -> None:
    executor.warm()
    worker = executor._pools[""].worker
    assert worker is not None
    _spares(worker.pid, 2)  # forked before the preload below: they must not be used

    executor.start([(str(HERE), "conformance_preloaded", "conformance_preloaded.py")], [])
    request = _request(tmp_path, "probe", "show_preloaded", str(tmp_path))
    executor.submit(request)
    assert _end(executor, "probe").status == 0
    assert (tmp_path / "preloaded").read_text() == "True"


@pytest.mark.parametrize("fresh", [False, True])
def test_a_task_input_given_with_the_request_reaches_the_task(
    executor: LocalExecutor, tmp_path: Path, fresh: bool
) -> None:
    written = _request(tmp_path, "handed", "succeed", "over the pipe", fresh_interpreter=fresh)
    path = Path(written.input_path)
    data = json.loads(path.read_text())
    path.unlink()
    request = dataclasses.replace(written, task_input=data)

    executor.submit(request)
    assert _end(executor, "handed").status == 0
    assert "to stdout over the pipe" in Path(request.log_path).read_text()
    # A forked task gets it over the worker's pipe; a fresh interpreter from the file.
    assert path.exists() is fresh
