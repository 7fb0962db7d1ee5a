"""On a terminal, 'headwater run' shows a live table of tasks, then the summary."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

PIPELINE = """
import time
from headwater import component, pipeline


@component
def slow(seconds: float, tag: str) -> float:
    time.sleep(seconds)
    return seconds


@pipeline
def live(seconds: float = 0.6):
    first = slow(seconds=seconds, tag="first")
    slow(seconds=first.output, tag="second")
"""


def test_live_table_on_a_terminal(tmp_path: Path) -> None:
    (tmp_path / "live_pipeline.py").write_text(PIPELINE)
    env = dict(os.environ, HEADWATER_HOME=str(tmp_path / "home"), COLUMNS="120", TERM="xterm")
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("headwater")), "run", "live_pipeline.py"],
        cwd=tmp_path,
        env=env,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        close_fds=True,
    )
    os.close(secondary)
    screen = b""
    deadline = time.time() + 60
    while time.time() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=10)
    os.close(primary)
    text = screen.decode(errors="replace")
    assert proc.returncode == 0, text
    # The live view redraws the table in place (cursor movement), showing tasks running.
    assert "\x1b[" in text
    assert "running" in text, text
    assert "slow-2" in text
    assert "succeeded in" in text
