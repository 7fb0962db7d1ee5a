"""Running uv: where its binary is, and one command with its output streamed to a log."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from typing import IO

from headwater.errors import EnvError

Report = Callable[[str], None]
"""Told each line of output of a resolution or a build, as it comes."""


def uv_binary() -> str:
    """The uv binary that came with the ``uv`` package (a dependency of Headwater)."""
    try:
        import uv
    except ImportError:
        uv = None  # type: ignore[assignment]
    if uv is not None:
        try:
            return str(uv.find_uv_bin())
        except FileNotFoundError:
            pass
    import shutil

    found = shutil.which("uv")
    if found is None:
        raise EnvError(
            "uv, which builds per-step environments, is not installed",
            hint="install it into Headwater's environment: pip install 'uv>=0.13'",
        )
    return found


def uv_environment() -> dict[str, str]:
    """This process's environment for uv, without what would make it act on another
    environment or print colours."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env["NO_COLOR"] = "1"
    env.setdefault("UV_NO_PROGRESS", "1")
    return env


def run_uv(
    args: list[str], *, log: IO[str] | None = None, report: Report | None = None
) -> tuple[int, str]:
    """Run ``uv ARGS``; its stdout and stderr together, line by line, go to ``log`` and
    ``report``. The exit code and all that it printed."""
    proc = subprocess.Popen(
        [uv_binary(), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=uv_environment(),
        text=True,
        errors="replace",
    )
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if log is not None:
            log.write(line)
            log.flush()
        if report is not None and line.strip():
            report(line.rstrip())
    return proc.wait(), "".join(lines)
