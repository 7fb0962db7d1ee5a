"""A run keeps its pipeline version: retried after a redeploy of changed code, it runs the
code it was triggered with, while new runs get the new code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from server_helpers import Standalone

API = "/api/v1"

PIPELINE = '''
from headwater import component, pipeline

CODE = "{code}"


@component
def which(marker: str) -> str:
    """Print and return this file's CODE; fail unless ``marker`` exists."""
    import os

    print(f"running code {{CODE}}")
    if not os.path.exists(marker):
        raise RuntimeError("no marker yet")
    return CODE


@pipeline
def server_versioned(marker: str):
    which(marker=marker)
'''


def _output(run: dict[str, Any]) -> Any:
    tasks = [t for t in run["tasks"] if not t["cleared"]]
    assert len(tasks) == 1, tasks
    return tasks[0]["outputs"]["parameters"]["output"]


def test_a_retried_run_runs_its_own_version_after_a_redeploy(
    server: Standalone, tmp_path: Path
) -> None:
    source = tmp_path / "server_versioned.py"
    source.write_text(PIPELINE.format(code="v1"))
    v1 = server.deploy(source)
    marker = tmp_path / "marker"
    run_id = server.trigger("server_versioned", marker=str(marker))["id"]
    first = server.wait(run_id)
    assert first["status"] == "failed" and first["version_id"] == v1

    source.write_text(PIPELINE.format(code="v2"))
    v2 = server.deploy(source)
    assert v2 != v1
    stored = server.http.get(f"{API}/versions/{v2}/source").json()
    assert 'CODE = "v2"' in stored["server_versioned.py"]
    assert (
        'CODE = "v1"'
        in server.http.get(f"{API}/versions/{v1}/source").json()["server_versioned.py"]
    )

    marker.write_text("here")
    r = server.http.post(f"{API}/runs/{run_id}/retry")
    assert r.status_code == 200, r.text
    retried = server.wait(run_id)
    assert retried["status"] == "succeeded", retried
    assert retried["version_id"] == v1
    assert _output(retried) == "v1"
    log = server.http.get(f"{API}/runs/{run_id}/tasks/which/logs").json()["text"]
    assert log == "running code v1\n"

    fresh = server.wait(server.trigger("server_versioned", marker=str(marker))["id"])
    assert fresh["version_id"] == v2
    assert _output(fresh) == "v2"
