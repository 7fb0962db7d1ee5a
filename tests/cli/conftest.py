"""Run the real ``headwater`` command in a subprocess; share tests/pipelines by name."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
if str(PIPELINES) not in sys.path:
    sys.path.insert(0, str(PIPELINES))

Run = Callable[..., subprocess.CompletedProcess[str]]


def headwater_command() -> list[str]:
    """The console script installed next to this Python, else the same entry point by -c."""
    script = Path(sys.executable).parent / ("headwater.exe" if os.name == "nt" else "headwater")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from headwater.cli import run; run()"]


@pytest.fixture
def headwater(tmp_path: Path) -> Run:
    """``headwater(*args)`` runs the CLI in ``tmp_path`` and returns the finished process."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update({"NO_COLOR": "1", "COLUMNS": "80", "PYTHONDONTWRITEBYTECODE": "1"})

    def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*headwater_command(), *(str(a) for a in args)],
            cwd=cwd or tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run
