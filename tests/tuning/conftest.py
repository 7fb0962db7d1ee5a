"""Tuning tests run real studies: real runs in real task processes, on a real store.

Each test gets its own ``HEADWATER_HOME``. A test that takes ``database`` runs twice:
``[sqlite]`` in that home, ``[postgresql]`` on a database created for it (from
``HEADWATER_TEST_POSTGRES_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``;
skipped when unreachable, except under CI, where it fails). The pipelines in
tuning_flow.py are importable by name.
"""

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
    """A fresh Headwater home for every test (database, artifacts, logs)."""
    folder = tmp_path / "hw-home"
    monkeypatch.setenv("HEADWATER_HOME", str(folder))
    for name in ("HEADWATER_DATABASE_URL", "HEADWATER_ARTIFACT_ROOT", "HEADWATER_GPUS"):
        monkeypatch.delenv(name, raising=False)
    return folder


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The store's backend for this test: the home's SQLite file, or a new PostgreSQL
    database (as HEADWATER_DATABASE_URL)."""
    if request.param == "sqlite":
        yield "sqlite"
        return
    with postgres_database("hw_tuning") as url:
        monkeypatch.setenv("HEADWATER_DATABASE_URL", url)
        yield "postgresql"
