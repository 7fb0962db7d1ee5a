"""The model registry is tested on real runs, in a fresh Headwater home per test, on SQLite
and on PostgreSQL (``backend``: a fresh database; skipped when no server answers, except
under CI, where the test fails)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres_helpers import postgres_database

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "hw-home"
    monkeypatch.setenv("HEADWATER_HOME", str(folder))
    for name in ("HEADWATER_DATABASE_URL", "HEADWATER_ARTIFACT_ROOT"):
        monkeypatch.delenv(name, raising=False)
    return folder


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Runs recorded in the home's SQLite database, or in a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield "sqlite"
        return
    with postgres_database("hw_reg") as url:
        monkeypatch.setenv("HEADWATER_DATABASE_URL", url)
        yield "postgresql"


@pytest.fixture
def ws(home: Path) -> Iterator[object]:
    """The store of this test's home (after ``backend``, when a test asks for both)."""
    from headwater.engine import Workspace

    opened = Workspace.open()
    yield opened
    opened.close()
