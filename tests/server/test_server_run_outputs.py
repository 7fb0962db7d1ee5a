"""A run's own outputs (what its pipeline function returns) in GET /runs/{id}: values by
value, artifacts by id, once the run has succeeded; null for a failed run (tests/store
checks that a run queued again loses them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from server_helpers import Standalone

API = "/api/v1"
PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"


@pytest.fixture(scope="module")
def outputs_pipeline(server: Standalone) -> str:
    server.deploy(PIPELINES / "server_api.py", "server_outputs")
    return "server_outputs"


def test_a_succeeded_run_has_its_pipeline_outputs(
    server: Standalone, outputs_pipeline: str
) -> None:
    run = server.wait(server.trigger(outputs_pipeline, n=7, text="hi")["id"])
    assert run["status"] == "succeeded", run
    outputs = run["outputs"]
    assert outputs["parameters"] == {"count": 7, "squares": [1, 4, 9]}
    note = next(t for t in run["tasks"] if t["path"] == "write_note")
    assert outputs["artifacts"] == {"note": note["outputs"]["artifacts"]["note"]}
    artifact = server.http.get(f"{API}/artifacts/{outputs['artifacts']['note']}")
    assert artifact.status_code == 200, artifact.text
    download = server.http.get(f"{API}/artifacts/{outputs['artifacts']['note']}/download")
    assert download.content == b"hi"


def test_a_pipeline_that_returns_nothing_has_empty_outputs(server: Standalone) -> None:
    run = server.wait(server.trigger("server_report", n=1)["id"])
    assert run["status"] == "succeeded", run
    assert run["outputs"] == {"parameters": {}, "artifacts": {}}


def test_a_run_lists_without_its_outputs(server: Standalone, outputs_pipeline: str) -> None:
    run_id = server.trigger(outputs_pipeline)["id"]
    server.wait(run_id)
    listed = server.http.get(f"{API}/runs", params={"pipeline": outputs_pipeline}).json()
    assert listed["items"] and all("outputs" not in r for r in listed["items"])


def test_a_failed_run_has_no_outputs_until_a_retry_succeeds(
    server: Standalone, tmp_path: Path
) -> None:
    marker = tmp_path / "open"
    run_id = server.trigger("server_gated", marker=str(marker), out_dir=str(tmp_path))["id"]
    failed = server.wait(run_id)
    assert failed["status"] == "failed" and failed["outputs"] is None, failed
    marker.touch()
    retried = server.http.post(f"{API}/runs/{run_id}/retry")
    assert retried.status_code == 200, retried.text
    done = server.wait(run_id)
    assert done["status"] == "succeeded" and done["outputs"] == {
        "parameters": {},
        "artifacts": {},
    }
