"""Sensor tests run real pipelines through the real CLI, against real things to wait for:
files (local and on an FTP server), an HTTP server, PostgreSQL, other runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ENGINE = HERE.parent / "engine"
for folder in (HERE, ENGINE, HERE.parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh Headwater home for every test, with a quick heartbeat (adoption tests)."""
    folder = tmp_path / "hw-home"
    monkeypatch.setenv("HEADWATER_HOME", str(folder))
    for name in ("HEADWATER_DATABASE_URL", "HEADWATER_ARTIFACT_ROOT", "HEADWATER_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    return folder
