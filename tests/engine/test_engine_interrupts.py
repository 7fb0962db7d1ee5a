"""Ctrl-C cancels a run cleanly; a run whose engine was SIGKILLed resumes where it stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from engine_helpers import Cli, alive, read_pid, start_cli, wait_for, write_pipeline

from headwater.engine import Run, Workspace
from headwater.states import RunStatus, TaskStatus


@contextlib.contextmanager
def cleanup(proc: subprocess.Popen[bytes], pid_files: list[Path]) -> Iterator[None]:
    """Whatever the test's outcome, leave no CLI or task process of ours running."""
    try:
        yield
    finally:
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        for file in pid_files:
            if file.exists() and alive(pid := read_pid(file)):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)


def _output(tmp_path: Path) -> str:
    return (tmp_path / "cli.out").read_text() + (tmp_path / "cli.err").read_text()


def test_ctrl_c_cancels_the_run_kills_its_task_and_exits_130(tmp_path: Path) -> None:
    pid_file = tmp_path / "sleeper.pid"
    file = write_pipeline(
        tmp_path,
        "engine_cli_ctrl_c",
        """
        from headwater import component, pipeline

        @component
        def sleeper(pid_file: str) -> None:
            import os
            import time
            from pathlib import Path

            Path(pid_file + ".tmp").write_text(str(os.getpid()))
            Path(pid_file + ".tmp").replace(pid_file)
            time.sleep(60)

        @pipeline
        def engine_cli_ctrl_c(pid_file: str):
            sleeper(pid_file=pid_file)
        """,
    )
    proc = start_cli("run", file, "-p", f"pid_file={pid_file}", cwd=tmp_path)
    with cleanup(proc, [pid_file]):
        wait_for(lambda: pid_file.exists() or proc.poll() is not None, 30, "the task to start")
        assert proc.poll() is None, _output(tmp_path)
        task_pid = read_pid(pid_file)
        assert alive(task_pid)

        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=15)
        took = time.monotonic() - sent

        assert code == 130, _output(tmp_path)
        assert took < 5, f"the CLI took {took:.1f}s to stop after Ctrl-C"
        wait_for(lambda: not alive(task_pid), 2, f"task process {task_pid} to be gone")
        assert "cancelled" in _output(tmp_path)

        ws = Workspace.open()
        try:
            (record,) = ws.store.runs.list_runs()
            run = Run(ws, record.id)
            assert run.status is RunStatus.CANCELLED
            assert run.tasks["sleeper"].status is TaskStatus.CANCELLED
            assert run.tasks["sleeper"].pid == task_pid
        finally:
            ws.close()


CHAIN = """
from headwater import component, pipeline


def _count(counter_dir: str, name: str) -> int:
    from pathlib import Path

    path = Path(counter_dir) / f"{name}.count"
    with path.open("a") as f:
        f.write("x")
    return len(path.read_text())


@component
def step_a(counter_dir: str) -> int:
    return _count(counter_dir, "a")


@component
def step_b(x: int, counter_dir: str) -> int:
    import os
    import time
    from pathlib import Path

    n = _count(counter_dir, "b")
    pid_file = Path(counter_dir) / "b.pid"
    Path(f"{pid_file}.tmp").write_text(str(os.getpid()))
    Path(f"{pid_file}.tmp").replace(pid_file)
    if n == 1:
        time.sleep(60)  # the first execution is where the engine gets killed
    return x + 1


@component
def step_c(x: int, counter_dir: str) -> int:
    _count(counter_dir, "c")
    return x + 1


@pipeline
def engine_cli_resume(counter_dir: str):
    a = step_a(counter_dir=counter_dir)
    b = step_b(x=a.output, counter_dir=counter_dir)
    step_c(x=b.output, counter_dir=counter_dir)
"""


def test_resume_finishes_a_run_whose_engine_was_killed_without_rerunning_done_tasks(
    tmp_path: Path, cli: Cli
) -> None:
    counters = tmp_path / "counters"
    counters.mkdir()
    pid_file = counters / "b.pid"
    file = write_pipeline(tmp_path, "engine_cli_resume", CHAIN)
    proc = start_cli("run", file, "-p", f"counter_dir={counters}", cwd=tmp_path)
    with cleanup(proc, [pid_file]):
        wait_for(lambda: pid_file.exists() or proc.poll() is not None, 30, "step_b to start")
        assert proc.poll() is None, _output(tmp_path)
        b_pid = read_pid(pid_file)
        ws = Workspace.open()
        try:
            (record,) = ws.store.runs.list_runs()
            wait_for(
                lambda: Run(ws, record.id).tasks["step_b"].status is TaskStatus.RUNNING,
                10,
                "step_b to be recorded as running",
            )
            assert Run(ws, record.id).tasks["step_a"].status is TaskStatus.SUCCEEDED

            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)

            assert ws.store.runs.get_run(record.id).status is RunStatus.RUNNING
            # With its engine gone, the task process must not run on unsupervised.
            wait_for(lambda: not alive(b_pid), 5, f"step_b's process {b_pid} to be gone")

            done = cli("resume", record.id)
            assert done.returncode == 0, done.stdout + done.stderr

            run = Run(ws, record.id)
            assert run.status is RunStatus.SUCCEEDED
            assert [a.status for a in run.attempts if a.path == "step_a"] == [TaskStatus.SUCCEEDED]
            assert (counters / "a.count").read_text() == "x", "step_a ran again"
            assert run.tasks["step_b"].status is TaskStatus.SUCCEEDED
            assert run.tasks["step_c"].status is TaskStatus.SUCCEEDED
            assert run.outputs("step_c")["output"] == 3
            assert (counters / "b.count").read_text() == "xx"

            again = cli("resume", record.id)
            assert again.returncode == 1, again.stdout + again.stderr
            assert "already ended" in again.stderr and record.id in again.stderr
        finally:
            ws.close()


def test_resuming_an_unknown_run_is_a_clear_error(cli: Cli) -> None:
    done = cli("resume", "no-such-run")
    assert done.returncode == 1
    assert "no run 'no-such-run'" in done.stderr


FAN_OUT = """
from headwater import component, pipeline


@component
def work(counter_dir: str, name: str) -> str:
    import os
    import time
    from pathlib import Path

    folder = Path(counter_dir)
    with (folder / f"{name}.count").open("a") as f:
        f.write("x")
    (folder / f"{name}.pid.tmp").write_text(str(os.getpid()))
    (folder / f"{name}.pid.tmp").replace(folder / f"{name}.pid")
    if (folder / "hold").exists():
        time.sleep(60)  # where the engine gets killed
    return name


@pipeline(cache=False)
def engine_cli_not_started(counter_dir: str):
    for name in ("one", "two", "three"):
        work(counter_dir=counter_dir, name=name).set_display_name(name)
"""


def test_attempts_that_never_started_are_queued_again_on_resume_not_failed(
    tmp_path: Path, cli: Cli
) -> None:
    counters = tmp_path / "counters"
    counters.mkdir()
    (counters / "hold").touch()
    file = write_pipeline(tmp_path, "engine_cli_not_started", FAN_OUT)
    proc = start_cli(
        "run", file, "--max-parallel", "1", "-p", f"counter_dir={counters}", cwd=tmp_path
    )
    pid_files = [counters / f"{n}.pid" for n in ("one", "two", "three")]
    with cleanup(proc, pid_files):
        wait_for(
            lambda: any(f.exists() for f in pid_files) or proc.poll() is not None,
            30,
            "the first task to start",
        )
        assert proc.poll() is None, _output(tmp_path)
        ws = Workspace.open()
        try:
            (record,) = ws.store.runs.list_runs()
            wait_for(
                lambda: (
                    sorted(a.status for a in Run(ws, record.id).attempts)
                    == [TaskStatus.QUEUED, TaskStatus.QUEUED, TaskStatus.RUNNING]
                ),
                10,
                "one attempt running and two queued",
            )
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            (counters / "hold").unlink()

            done = cli("resume", record.id)
            assert done.returncode == 0, done.stdout + done.stderr
            requeued = [line for line in done.stdout.splitlines() if "queued again" in line]
            assert len(requeued) == 2, done.stdout
            assert all("had not started" in line for line in requeued), requeued

            run = Run(ws, record.id)
            assert run.status is RunStatus.SUCCEEDED
            rows = {
                p: [(a.attempt, a.status) for a in run.attempts if a.path == p] for p in run.tasks
            }
            lost = [p for p, r in rows.items() if len(r) == 2]
            assert len(lost) == 1, rows
            assert rows.pop(lost[0]) == [(1, TaskStatus.FAILED), (2, TaskStatus.SUCCEEDED)]
            # The two that never started are still their first attempt, which ran once.
            assert list(rows.values()) == [[(1, TaskStatus.SUCCEEDED)]] * 2, rows
            assert all(a.error is None for a in run.attempts if a.path in rows)
            counts = sorted(len(p.read_text()) for p in counters.glob("*.count"))
            assert counts == [1, 1, 2]
        finally:
            ws.close()


RELEASED = """
from headwater import component, pipeline


@component
def first(counter_dir: str) -> int:
    import os
    import time
    from pathlib import Path

    folder = Path(counter_dir)
    with (folder / "first.count").open("a") as f:
        f.write("x")
    (folder / "first.pid.tmp").write_text(str(os.getpid()))
    (folder / "first.pid.tmp").replace(folder / "first.pid")
    while not (folder / "release").exists():
        time.sleep(0.02)
    return 1


@component
def second(x: int) -> int:
    return x + 1


@pipeline(cache=False)
def engine_cli_finished_unrecorded(counter_dir: str):
    second(x=first(counter_dir=counter_dir).output)
"""


def test_a_task_that_finished_while_its_engine_could_not_record_it_is_not_run_again(
    tmp_path: Path, cli: Cli
) -> None:
    counters = tmp_path / "counters"
    counters.mkdir()
    pid_file = counters / "first.pid"
    file = write_pipeline(tmp_path, "engine_cli_finished_unrecorded", RELEASED)
    proc = start_cli("run", file, "-p", f"counter_dir={counters}", cwd=tmp_path)
    with cleanup(proc, [pid_file]):
        wait_for(lambda: pid_file.exists() or proc.poll() is not None, 30, "first to start")
        assert proc.poll() is None, _output(tmp_path)
        task_pid = read_pid(pid_file)
        ws = Workspace.open()
        try:
            (record,) = ws.store.runs.list_runs()
            wait_for(
                lambda: Run(ws, record.id).tasks["first"].status is TaskStatus.RUNNING,
                10,
                "first to be recorded as running",
            )
            # A stopped engine records nothing: the task ends, writes its output and exits,
            # and only then is the engine killed.
            proc.send_signal(signal.SIGSTOP)
            (counters / "release").touch()
            wait_for(lambda: not alive(task_pid), 10, "first's process to end")
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            assert Run(ws, record.id).tasks["first"].status is TaskStatus.RUNNING

            done = cli("resume", record.id)
            assert done.returncode == 0, done.stdout + done.stderr
            run = Run(ws, record.id)
            assert run.status is RunStatus.SUCCEEDED
            assert [(a.attempt, a.status) for a in run.attempts if a.path == "first"] == [
                (1, TaskStatus.SUCCEEDED)
            ]
            assert run.outputs("second")["output"] == 2
            assert (counters / "first.count").read_text() == "x", "first ran again"
        finally:
            ws.close()
