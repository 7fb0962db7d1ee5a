"""Helpers shared by the TensorBoard tests: the ``headwater`` command and its environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

Cli = Callable[..., subprocess.CompletedProcess[str]]


def headwater_command() -> list[str]:
    script = Path(sys.executable).with_name("headwater")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from headwater.cli import run; run()"]


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update({"NO_COLOR": "1", "COLUMNS": "400", "PYTHONDONTWRITEBYTECODE": "1"})
    return env
