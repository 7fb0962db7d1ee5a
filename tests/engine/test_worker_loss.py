"""The task worker (the zygote that forks tasks) dies in the middle of a run.

``headwater run`` must notice at once, stop what the dead worker left running, record a
task that had finished as finished, fail or retry the others under their retry policy,
start a new worker for later tasks, and end the run. Every task body appends a line to
``marks.log`` (task, attempt, pid, worker pid, start or end), so "ran once" is checked
from what the bodies did, not only from the store.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from engine_helpers import alive, start_cli, wait_for, write_pipeline

from headwater.engine import Run, Workspace
from headwater.executors import MAX_WORKER_RESTARTS
from headwater.states import RunStatus, TaskStatus

WORKER_DIED = "the task worker process died"
# The pipeline's four tasks, a -> b -> c -> d, by their task paths.
PATHS = {"a": "step", "b": "step-2", "c": "step-3", "d": "step-4"}

PIPELINE = """
from headwater import component, pipeline


def _mark(marks: str, name: str, event: str) -> None:
    import os

    line = f"{name} {os.environ['HEADWATER_ATTEMPT']} {os.getpid()} {os.getppid()} {event}"
    with open(os.path.join(marks, "marks.log"), "a") as f:
        f.write(line + "\\n")


def _wait_for_release(marks: str, name: str) -> None:
    # The first attempt waits until the test creates NAME.go (or a minute passes).
    import os
    import time

    if os.environ["HEADWATER_ATTEMPT"] != "1":
        return
    deadline = time.time() + 60
    while not os.path.exists(os.path.join(marks, name + ".go")) and time.time() < deadline:
        time.sleep(0.02)


@component(retries=1, retry_delay=0)
def step(marks: str, name: str, x: int) -> int:
    _mark(marks, name, "start")
    _wait_for_release(marks, name)
    _mark(marks, name, "end")
    return x + 1


@pipeline(cache=False)
def worker_loss(marks: str):
    a = step(marks=marks, name="a", x=0)
    b = step(marks=marks, name="b", x=a.output)
    c = step(marks=marks, name="c", x=b.output)
    step(marks=marks, name="d", x=c.output)
"""


def marks(folder: Path) -> list[tuple[str, int, int, int, str]]:
    """(task, attempt, pid, worker pid, event) for every line a task body wrote."""
    path = folder / "marks.log"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines(keepends=True):
        if not line.endswith("\n"):
            continue  # being written as we read
        name, attempt, pid, ppid, event = line.split()
        out.append((name, int(attempt), int(pid), int(ppid), event))
    return out


def started(folder: Path, name: str) -> tuple[int, int] | None:
    """(pid, worker pid) of the first attempt of ``name`` once it has started."""
    for task, attempt, pid, ppid, event in marks(folder):
        if (task, attempt, event) == (name, 1, "start"):
            return pid, ppid
    return None


@contextlib.contextmanager
def running_cli(tmp_path: Path, folder: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``headwater run`` of the pipeline; whatever happens, nothing of it is left running
    (the CLI, its workers, or a task: each is a pid a task body wrote down)."""
    file = write_pipeline(tmp_path, "worker_loss", PIPELINE)
    proc = start_cli("run", file, "-p", f"marks={folder}", cwd=tmp_path)
    try:
        yield proc
    finally:
        for pid in {m[3] for m in marks(folder)} | {m[2] for m in marks(folder)}:
            if pid != proc.pid and alive(pid):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGCONT)
                    os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def output(tmp_path: Path) -> str:
    return (tmp_path / "cli.out").read_text() + (tmp_path / "cli.err").read_text()


def test_a_killed_worker_fails_or_retries_its_tasks_and_a_new_worker_runs_the_rest(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "marks"
    folder.mkdir()
    (folder / "a.go").touch()
    with running_cli(tmp_path, folder) as proc:
        # Kill the worker while b runs, and the worker started after it while c runs.
        workers = []
        for name in ("b", "c"):
            wait_for(lambda n=name: started(folder, n) or proc.poll() is not None, 60, name)
            assert proc.poll() is None, output(tmp_path)
            task_pid, worker = started(folder, name) or (0, 0)
            workers.append(worker)
            os.kill(worker, signal.SIGKILL)
            # The orphaned task is stopped: it must not run on beside its retry.
            wait_for(lambda p=task_pid: not alive(p), 15, f"{name}'s lost process to be gone")
        assert workers[0] != workers[1], "the second task ran in the killed worker"
        (folder / "d.go").touch()
        assert proc.wait(timeout=60) == 0, output(tmp_path)

    ws = Workspace.open()
    try:
        (record,) = ws.store.runs.list_runs()
        run = Run(ws, record.id)
        assert run.status is RunStatus.SUCCEEDED
        assert run.outputs(PATHS["d"])["output"] == 4
        by_task = {
            n: [(a.attempt, a.status) for a in run.attempts if a.path == p]
            for n, p in PATHS.items()
        }
        assert by_task == {
            "a": [(1, TaskStatus.SUCCEEDED)],
            "b": [(1, TaskStatus.UP_FOR_RETRY), (2, TaskStatus.SUCCEEDED)],
            "c": [(1, TaskStatus.UP_FOR_RETRY), (2, TaskStatus.SUCCEEDED)],
            "d": [(1, TaskStatus.SUCCEEDED)],
        }
        for name in "bc":
            lost = next(a for a in run.attempts if a.path == PATHS[name] and a.attempt == 1)
            assert lost.error is not None and lost.error.startswith(WORKER_DIED), lost.error
    finally:
        ws.close()
    ends = Counter((task, attempt) for task, attempt, _, _, ev in marks(folder) if ev == "end")
    assert ends == Counter({("a", 1): 1, ("b", 2): 1, ("c", 2): 1, ("d", 1): 1})


def test_a_task_that_finished_before_its_worker_died_is_recorded_not_run_again(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "marks"
    folder.mkdir()
    (folder / "a.go").touch()
    with running_cli(tmp_path, folder) as proc:
        wait_for(lambda: started(folder, "b") or proc.poll() is not None, 60, "b to start")
        assert proc.poll() is None, output(tmp_path)
        task_pid, worker = started(folder, "b") or (0, 0)
        # A stopped worker cannot report b's exit: b ends, writes its output, and only
        # then does the worker die.
        os.kill(worker, signal.SIGSTOP)
        (folder / "b.go").touch()
        wait_for(lambda: any(m[0] == "b" and m[4] == "end" for m in marks(folder)), 30, "b to end")
        wait_for(lambda: not alive(task_pid), 30, "b's process to exit")
        os.kill(worker, signal.SIGKILL)
        for name in "cd":
            (folder / f"{name}.go").touch()
        assert proc.wait(timeout=60) == 0, output(tmp_path)

    ws = Workspace.open()
    try:
        (record,) = ws.store.runs.list_runs()
        run = Run(ws, record.id)
        assert run.status is RunStatus.SUCCEEDED
        assert [(a.attempt, a.status) for a in run.attempts if a.path == PATHS["b"]] == [
            (1, TaskStatus.SUCCEEDED)
        ]
        assert run.outputs(PATHS["d"])["output"] == 4
    finally:
        ws.close()
    ends = Counter((task, attempt) for task, attempt, _, _, ev in marks(folder) if ev == "end")
    assert ends == Counter({("a", 1): 1, ("b", 1): 1, ("c", 1): 1, ("d", 1): 1})


def test_cancelling_when_the_worker_cannot_answer_leaves_no_attempt_running(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "marks"
    folder.mkdir()
    with running_cli(tmp_path, folder) as proc:
        wait_for(lambda: started(folder, "a") or proc.poll() is not None, 60, "a to start")
        assert proc.poll() is None, output(tmp_path)
        task_pid, worker = started(folder, "a") or (0, 0)
        ws = Workspace.open()
        try:
            (record,) = ws.store.runs.list_runs()
            wait_for(
                lambda: Run(ws, record.id).tasks[PATHS["a"]].status is TaskStatus.RUNNING,
                10,
                "a to be recorded as running",
            )
            # The worker can report nothing (a's exit included) while it is stopped.
            os.kill(worker, signal.SIGSTOP)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=60) == 130, output(tmp_path)
            wait_for(lambda: not alive(task_pid), 10, "a's process to be gone")
            run = Run(ws, record.id)
            assert run.status is RunStatus.CANCELLED
            assert {p: a.status for p, a in run.tasks.items()} == {PATHS["a"]: TaskStatus.CANCELLED}
        finally:
            ws.close()


CHAIN_OF_SIX = PIPELINE.replace(
    """    a = step(marks=marks, name="a", x=0)
    b = step(marks=marks, name="b", x=a.output)
    c = step(marks=marks, name="c", x=b.output)
    step(marks=marks, name="d", x=c.output)""",
    """    x = step(marks=marks, name="s1", x=0)
    for name in ("s2", "s3", "s4", "s5", "s6"):
        x = step(marks=marks, name=name, x=x.output)""",
).replace("def worker_loss(", "def worker_loss_often(")


def test_a_worker_that_keeps_dying_gives_way_to_fresh_interpreters(tmp_path: Path) -> None:
    folder = tmp_path / "marks"
    folder.mkdir()
    names = [f"s{i}" for i in range(1, 7)]
    assert len(names) == MAX_WORKER_RESTARTS + 1
    file = write_pipeline(tmp_path, "worker_loss_often", CHAIN_OF_SIX)
    proc = start_cli("run", file, "-p", f"marks={folder}", cwd=tmp_path)
    try:
        for name in names:
            wait_for(lambda n=name: started(folder, n) or proc.poll() is not None, 60, name)
            assert proc.poll() is None, output(tmp_path)
            _, worker = started(folder, name) or (0, 0)
            assert worker != proc.pid, f"{name} did not run in a worker"
            os.kill(worker, signal.SIGKILL)
        assert proc.wait(timeout=60) == 0, output(tmp_path)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    retries = {task: ppid for task, attempt, _, ppid, ev in marks(folder) if attempt == 2}
    # Each death but the last was followed by a new worker; after the last, the retry
    # ran in an interpreter of its own, started by the engine itself.
    assert all(retries[n] != proc.pid for n in names[:-1]), retries
    assert retries[names[-1]] == proc.pid, retries
