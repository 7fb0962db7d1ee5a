"""The Airflow provider (integrations/airflow) against real Airflow 3 and a real Headwater.

Airflow lives in its own virtual environment (``make peers`` builds ``.venvs/airflow``,
with Headwater and the provider installed in it); tests run its ``airflow`` command and
its Python as subprocesses. Without it the tests are skipped, except under CI (``CI``
set), where they fail.

One ``headwater standalone`` (``headwater``) and one Airflow home on SQLite (``airflow``,
migrated once, while the server starts) serve the whole session. The DAGs are in
tests/airflow/dags; the pipelines they trigger in tests/pipelines/airflow_flow.py.
Connections are given to Airflow as ``AIRFLOW_CONN_*`` environment variables in JSON.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for folder in (HERE, REPO / "tests" / "server", REPO / "tests" / "pipelines"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from airflow_helpers import Airflow, connection  # noqa: E402
from server_helpers import Standalone, free_port, in_ci, start_standalone  # noqa: E402

PIPELINES = ("airflow_report", "airflow_broken", "airflow_sleepy", "airflow_publish")


@pytest.fixture(scope="session")
def airflow_venv() -> Path:
    """The Airflow peer environment (its folder)."""
    venv = Path(os.environ.get("HEADWATER_AIRFLOW_VENV") or REPO / ".venvs" / "airflow")
    if not (venv / "bin" / "airflow").exists():
        reason = f"the Airflow peer environment is missing ({venv}); build it with 'make peers'"
        if in_ci():
            pytest.fail(reason + "; CI is set, so the Airflow provider tests must run")
        pytest.skip(reason)
    return venv


@pytest.fixture(scope="session")
def airflow(airflow_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airflow]:
    running = Airflow(airflow_venv, tmp_path_factory.mktemp("airflow-home"))
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="session")
def headwater(airflow: Airflow, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standalone]:
    """A standalone server with tests/pipelines/airflow_flow.py's pipelines deployed."""
    with start_standalone(tmp_path_factory.mktemp("headwater")) as server:
        for name in PIPELINES:
            server.deploy(REPO / "tests" / "pipelines" / "airflow_flow.py", name)
        yield server


@pytest.fixture(scope="session")
def connections(headwater: Standalone) -> dict[str, str]:
    """The connections the DAGs use: the server's, and one broken in each way."""
    return {
        "headwater_default": connection(headwater.url, headwater.token),
        "headwater_unreachable": connection(f"http://127.0.0.1:{free_port()}", "hw_x"),
        "headwater_bad_token": connection(headwater.url, "hw_not_a_token"),
        "headwater_no_host": connection(None, headwater.token),
        "headwater_no_token": connection(headwater.url, None),
    }
