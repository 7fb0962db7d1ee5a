"""``headwater runs retry|clear|cancel`` on the local store."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

PIPELINE = """
from pathlib import Path

from headwater import component, pipeline


@component
def first(gate: str) -> int:
    with open(Path(gate).with_suffix(".count"), "a") as f:
        f.write("first\\n")
    return 1


@component
def second(x: int, gate: str) -> int:
    if not Path(gate).exists():
        raise RuntimeError("the gate is closed")
    return x + 1


@pipeline
def requeue(gate: str):
    second(x=first(gate=gate).output, gate=gate)
"""


def test_retry_reruns_the_failed_task_and_clear_reruns_one(tmp_path: Path) -> None:
    def headwater(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).with_name("headwater")), *args],
            cwd=tmp_path,
            env=dict(os.environ, HEADWATER_HOME=str(tmp_path / "home"), COLUMNS="200"),
            capture_output=True,
            text=True,
            timeout=120,
        )

    (tmp_path / "flow.py").write_text(PIPELINE)
    gate = tmp_path / "gate"
    failed = headwater("run", "flow.py", "-p", f"gate={gate}", "--no-cache")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    run_id = re.search(r"run (\w{26})", failed.stdout + failed.stderr).group(1)  # type: ignore[union-attr]

    gate.touch()
    retried = headwater("runs", "retry", run_id)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "running second again" in retried.stdout
    assert (tmp_path / "gate.count").read_text().count("first") == 1  # first was kept

    cleared = headwater("runs", "clear", run_id, "first", "--only")
    assert cleared.returncode == 0, cleared.stdout + cleared.stderr
    assert "running first again" in cleared.stdout
    assert (tmp_path / "gate.count").read_text().count("first") == 2

    ended = headwater("runs", "cancel", run_id)
    assert ended.returncode == 1
    assert "already ended (succeeded)" in ended.stderr and "nothing to cancel" in ended.stderr

    again = headwater("runs", "retry", run_id)
    assert again.returncode == 1
    assert "has no failed task to retry" in again.stderr
    shown = headwater("runs", "show", run_id)
    assert shown.returncode == 0 and "succeeded" in shown.stdout
