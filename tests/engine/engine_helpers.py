"""Helpers shared by the engine tests: the CLI, processes, polling, task attempts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from headwater.engine import Run
from headwater.store import TaskRunRecord

Cli = Callable[..., subprocess.CompletedProcess[str]]
"""The ``cli`` fixture: ``cli(*args)`` runs ``headwater`` and returns it finished."""


def headwater_command() -> list[str]:
    script = Path(sys.executable).with_name("headwater")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from headwater.cli import run; run()"]


def cli_env() -> dict[str, str]:
    """This process's environment (with the test's HEADWATER_HOME), plain wide output."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update({"NO_COLOR": "1", "COLUMNS": "400", "PYTHONDONTWRITEBYTECODE": "1"})
    return env


def start_cli(*args: str | Path, cwd: Path) -> subprocess.Popen[bytes]:
    """Start ``headwater`` in its own session (signals to it never reach pytest).

    Its output goes to ``cli.out`` and ``cli.err`` in ``cwd``, so a full pipe never blocks it.
    """
    with (cwd / "cli.out").open("wb") as out, (cwd / "cli.err").open("wb") as err:
        return subprocess.Popen(
            [*headwater_command(), *(str(a) for a in args)],
            cwd=cwd,
            env=cli_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )


def write_pipeline(folder: Path, name: str, source: str) -> Path:
    """Write a pipeline module ``name``.py (use names unique across the suite)."""
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
    return path


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie awaiting its reaper is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``predicate`` every 20 ms until it is true; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.02)


def read_pid(path: Path) -> int:
    return int(path.read_text())


def attempts(run: Run, path: str) -> list[TaskRunRecord]:
    """Every attempt row of the task at ``path``, oldest first."""
    return [a for a in run.attempts if a.path == path]


def statuses(run: Run) -> dict[str, str]:
    """The latest status of every task, as plain strings."""
    return {path: str(rec.status) for path, rec in run.tasks.items()}


@contextmanager
def module_home(factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """A Headwater home for a module-scoped fixture (a run that several tests inspect)."""
    folder = factory.mktemp(name)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HEADWATER_HOME", str(folder))
        for var in ("HEADWATER_DATABASE_URL", "HEADWATER_ARTIFACT_ROOT", "HEADWATER_GPUS"):
            mp.delenv(var, raising=False)
        yield folder
