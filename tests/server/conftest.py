"""The HTTP API tested against a real server: ``headwater standalone`` (API and scheduler in
one process) started as a subprocess on a free port with its own ``HEADWATER_HOME``.

Most tests share one server (``server``, session scope), so they count what they
create by pipeline or run id, never in all; tests that change what others would see
(fuzzing, restarts, PostgreSQL) start their own. The admin token is read from what the
server prints on its first start. Pipelines come from tests/pipelines/server_api.py,
deployed with the real ``headwater deploy``.

A module that wants PostgreSQL asks for ``postgres_url``: a fresh database on
``HEADWATER_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``),
dropped afterwards; skipped when unreachable, except under CI (``CI`` set), where the
test fails.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PIPELINES = HERE.parent / "pipelines"
for folder in (HERE, PIPELINES):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from server_helpers import Standalone, postgres_database, start_standalone  # noqa: E402

SERVER_PIPELINES = ("server_report", "server_sleepy", "server_gated")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standalone]:
    """A standalone server on SQLite that the modules share, server_api.py deployed."""
    with start_standalone(tmp_path_factory.mktemp("standalone")) as running:
        for name in SERVER_PIPELINES:
            running.deploy(PIPELINES / "server_api.py", name)
        yield running


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A new PostgreSQL database (SQLAlchemy URL) for this module; dropped afterwards."""
    with postgres_database("hw_test_server") as url:
        yield url
