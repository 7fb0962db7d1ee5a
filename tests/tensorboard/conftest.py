"""TensorBoard tests run real pipelines on a real store, export them with the real
``headwater tensorboard`` command and read the result with TensorBoard's own readers and
server. Each test gets its own ``HEADWATER_HOME``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ftp_helpers import ftp_server
from postgres_helpers import postgres_database

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from tb_helpers import Cli, cli_env, headwater_command  # noqa: E402


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh Headwater home for every test."""
    folder = tmp_path / "hw-home"
    monkeypatch.setenv("HEADWATER_HOME", str(folder))
    for name in ("HEADWATER_DATABASE_URL", "HEADWATER_ARTIFACT_ROOT"):
        monkeypatch.delenv(name, raising=False)
    return folder


@pytest.fixture
def cli(tmp_path: Path, home: Path) -> Cli:
    """``cli(*args)`` runs ``headwater`` in ``tmp_path`` and returns it finished."""

    def run(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*headwater_command(), *(str(a) for a in args)],
            cwd=tmp_path,
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.fixture
def postgres(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh PostgreSQL database for this test, as HEADWATER_DATABASE_URL."""
    with postgres_database("hw_tensorboard") as url:
        monkeypatch.setenv("HEADWATER_DATABASE_URL", url)
        yield url


@pytest.fixture
def ftp_artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A remote artifact store: a real FTP server on loopback serving a fresh folder."""
    folder = tmp_path / "ftp"
    folder.mkdir()
    with ftp_server(folder) as port:
        monkeypatch.setenv("HEADWATER_ARTIFACT_ROOT", f"ftp://127.0.0.1:{port}/artifacts")
        yield folder
