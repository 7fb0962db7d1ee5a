"""Scheduled and asset-triggered runs are confined to the namespace's URI roots: a run
whose importer would read outside them is not created (the scheduler logs why and tries
again on later passes), on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import store_backends

from headwater.engine import Workspace, deploy
from headwater.scheduler import tick
from headwater.sdk import compile_root, load_module
from headwater.states import TaskStatus
from headwater.store import NewArtifact

ws = store_backends.ws
postgres_url = store_backends.postgres_url

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
flow: Any = load_module(PIPELINES / "importers.py")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def deployed(ws: Workspace, pipeline: Any) -> str:
    with compile_root(str(PIPELINES)):
        spec = pipeline.compile()
    deploy(ws, spec, str(PIPELINES))
    return str(spec.name)


def refusals(caplog: pytest.LogCaptureFixture, pipeline: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if f"schedule of pipeline '{pipeline}' created no run" in r.getMessage()
    ]


def test_a_scheduled_run_outside_the_roots_is_not_created(
    ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    name = deployed(ws, flow.import_daily)
    with caplog.at_level(logging.ERROR, logger="headwater.scheduler"):
        assert tick(ws, NOW) == []
        assert tick(ws, NOW) == []  # tried again, refused again: nothing is skipped for good
    [message, *_] = refusals(caplog, name)
    assert "task 'importer' would import '/etc' (parameter 'uri')" in message
    assert "headwater roots add" in message
    assert ws.store.runs.list_runs(pipeline=name) == []

    ws.store.roots.add("/etc")  # an operator allows it
    [run] = tick(ws, NOW)
    assert run.confined and run.parameters["uri"] == "/etc"


def test_an_asset_triggered_run_outside_the_roots_is_not_created(
    ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    name = deployed(ws, flow.import_on_asset)
    version = ws.store.pipelines.register_version("producer", None, "sha256:p", {"name": "p"}, None)
    producer = ws.store.runs.create_run(version, {})
    task = ws.store.tasks.add_task_run(producer.id, "p", "p", "p", 1, TaskStatus.SUCCEEDED)
    artifact = ws.store.lineage.add_artifact(
        NewArtifact("out", "headwater.Dataset", "file:///p/out", None, None), producer.id
    )
    ws.store.assets.record_asset_events(
        producer.id, task.id, [("warehouse://imports", artifact.id)]
    )

    with caplog.at_level(logging.ERROR, logger="headwater.scheduler"):
        assert tick(ws, NOW) == []
    assert refusals(caplog, name)
    assert ws.store.runs.list_runs(pipeline=name) == []

    ws.store.roots.add("/etc")
    [run] = tick(ws, NOW)
    assert run.confined and run.trigger == "asset"
