"""A pipeline whose task sets an option that the server's executor cannot honour (an
``image=`` on the local executor) is refused with a 4xx before any run is created; a
deploy is refused too; a run stored without the check fails as it starts, before any
task (docs/adr/0012)."""

from __future__ import annotations

from pathlib import Path

from server_helpers import Standalone

API = "/api/v1"

PIPELINE = """
from headwater import component, pipeline


@component(image="python:3.12-slim")
def containerised() -> str:
    return "ran"


@pipeline
def server_imaged():
    containerised()
"""

MESSAGE = (
    "task 'containerised' sets image='python:3.12-slim', but the local executor runs "
    "steps on this machine's Python"
)


def _source(tmp_path: Path) -> Path:
    source = tmp_path / "server_imaged.py"
    source.write_text(PIPELINE)
    return source


def test_deploying_a_task_the_executor_cannot_honour_is_refused(
    server: Standalone, tmp_path: Path
) -> None:
    before = server.snapshot()
    done = server.cli("deploy", _source(tmp_path))
    assert done.returncode == 1
    assert MESSAGE in done.stderr and "HEADWATER_IGNORE_IMAGE=1" in done.stderr
    assert server.snapshot() == before


def test_triggering_it_through_the_api_is_refused_and_creates_nothing(
    server: Standalone, tmp_path: Path
) -> None:
    # Deployed by someone who knowingly ignores images; this server does not.
    deployed = server.cli("deploy", _source(tmp_path), env={"HEADWATER_IGNORE_IMAGE": "1"})
    assert deployed.returncode == 0, deployed.stderr
    assert "image= is ignored as asked" in deployed.stderr
    before = server.snapshot()

    answer = server.trigger_raw("server_imaged")

    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"].startswith(MESSAGE)
    assert "compile the pipeline for Kubeflow" in body["hint"]
    assert "HEADWATER_IGNORE_IMAGE=1" in body["hint"]
    assert body["where"]["pipeline"] == "server_imaged"
    assert body["where"]["task"] == "containerised"
    assert server.snapshot() == before
    assert server.count_runs("server_imaged") == 0


def test_a_run_stored_without_the_check_fails_as_it_starts_before_any_task(
    server: Standalone, tmp_path: Path
) -> None:
    deployed = server.cli("deploy", _source(tmp_path), env={"HEADWATER_IGNORE_IMAGE": "1"})
    assert deployed.returncode == 0, deployed.stderr
    with server.store() as store:
        (version, *_) = store.pipelines.list_versions("server_imaged")
        run = store.runs.create_run(version, {}, trigger="schedule")  # as before the check

    ended = server.wait(run.id)

    assert ended["status"] == "failed"
    assert MESSAGE in ended["error"]
    assert ended["tasks"] == []
