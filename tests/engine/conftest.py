"""Engine tests run real pipelines: real task processes, a real SQLite store, the real CLI.

Each test gets its own ``HEADWATER_HOME`` under ``tmp_path``; the shared pipeline modules
in tests/pipelines and the helpers in engine_helpers.py are importable by name.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.engine import Workspace

HERE = Path(__file__).resolve().parent
PIPELINES = HERE.parent / "pipelines"
for folder in (HERE, PIPELINES):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from engine_helpers import Cli, cli_env, headwater_command  # noqa: E402


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh Headwater home for every test (database, artifacts, logs)."""
    folder = tmp_path / "hw-home"
    monkeypatch.setenv("HEADWATER_HOME", str(folder))
    for name in ("HEADWATER_DATABASE_URL", "HEADWATER_ARTIFACT_ROOT", "HEADWATER_GPUS"):
        monkeypatch.delenv(name, raising=False)
    return folder


@pytest.fixture
def workspace(home: Path) -> Iterator[Workspace]:
    """The store of this test's home, opened the way the engine opens it."""
    ws = Workspace.open()
    yield ws
    ws.close()


@pytest.fixture
def cli(tmp_path: Path, home: Path) -> Cli:
    """``cli(*args)`` runs the ``headwater`` command in ``tmp_path`` and returns it finished."""

    def run(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*headwater_command(), *(str(a) for a in args)],
            cwd=tmp_path,
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run
