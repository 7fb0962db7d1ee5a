"""A Kubeflow pipeline's run survives ``kill -9`` of ``headwater run`` like any other:
``headwater resume`` finishes it from the stored spec, without the YAML file and
without running again what had finished."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from headwater.engine import Workspace
from headwater.engine._api import Run
from headwater.states import RunStatus, TaskStatus

SOURCE = textwrap.dedent(
    """
    import sys
    from kfp import compiler, dsl

    @dsl.component(base_image="python:3.11")
    def first(marks: str) -> int:
        import os
        with open(os.path.join(marks, "first"), "a") as f:
            f.write("ran\\n")
        return 20

    @dsl.component(base_image="python:3.11")
    def held(marks: str, x: int) -> int:
        import os, time
        with open(os.path.join(marks, "held"), "a") as f:
            f.write("started\\n")
        deadline = time.time() + 60
        while not os.path.exists(os.path.join(marks, "go")) and time.time() < deadline:
            time.sleep(0.02)
        return x + 1

    @dsl.pipeline(name="resumable")
    def resumable(marks: str) -> int:
        return held(marks=marks, x=first(marks=marks).output).output

    compiler.Compiler().compile(resumable, sys.argv[1])
    """
)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_killed_run_of_kubeflow_ir_is_resumed(kfp_python: Path, tmp_path: Path) -> None:
    script, yaml_path = tmp_path / "make.py", tmp_path / "resumable.yaml"
    script.write_text(SOURCE, encoding="utf-8")
    made = subprocess.run([str(kfp_python), str(script), str(yaml_path)], capture_output=True)
    assert made.returncode == 0, made.stderr.decode()[-2000:]
    marks = tmp_path / "marks"
    marks.mkdir()
    home = tmp_path / "home"
    env = {**os.environ, "HEADWATER_HOME": str(home)}
    command = [sys.executable, "-c", "from headwater.cli import run; run()"]
    proc = subprocess.Popen(
        [*command, "run", str(yaml_path), "-p", f"marks={marks}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: (marks / "held").exists(), "the held task to start")
        os.killpg(proc.pid, signal.SIGKILL)  # the engine, its worker and the task
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    yaml_path.unlink()  # resume needs only what the store holds
    (marks / "go").touch()
    resumed = subprocess.run(
        [*command, "resume", *_run_ids(home)], env=env, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    ws = _open(home)
    try:
        (record,) = ws.store.runs.list_runs()
        run = Run(ws, record.id)
        assert run.status is RunStatus.SUCCEEDED
        assert run.outputs("held")["Output"] == 21
        first = [a for a in run.attempts if a.path == "first"]
        assert [(a.attempt, a.status) for a in first] == [(1, TaskStatus.SUCCEEDED)]
    finally:
        ws.close()
    assert (marks / "first").read_text() == "ran\n"  # not run again
    assert (marks / "held").read_text() == "started\nstarted\n"


def _open(home: Path) -> Workspace:
    from headwater._config import Settings

    return Workspace.open(Settings.from_env({"HEADWATER_HOME": str(home)}))


def _run_ids(home: Path) -> list[str]:
    ws = _open(home)
    try:
        return [r.id for r in ws.store.runs.list_runs()]
    finally:
        ws.close()
