"""Importers: a task attempt of their own (the engine never opens the file), the artifact
found by URI reused, metadata, lineage, downstream caching on the digest, the hashing
bound; and, for runs created through the server path, the roots checked again when the
task runs (a URI from an upstream output, an artifact recorded by a local run)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import importers
import pytest
import sqlalchemy as sa
from engine_helpers import statuses

import headwater
from headwater.engine import Run, Workspace, deploy, execute_run
from headwater.errors import UriNotAllowed
from headwater.scheduler import trigger
from headwater.sdk import compile_root
from headwater.states import RunStatus, TaskStatus
from headwater.store import _schema as t

PIPELINES = Path(importers.__file__).resolve().parent


def _file(tmp_path: Path, text: str = "a,b\n1,2\n") -> Path:
    path = tmp_path / "data" / "table.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _artifact(run: Run, path: str = "importer") -> headwater.engine.OpenedArtifact:
    return run.outputs(path)["artifact"]  # type: ignore[no-any-return]


def test_an_importer_is_a_task_attempt_that_records_the_digest(tmp_path: Path) -> None:
    data = _file(tmp_path)
    run = headwater.run(importers.import_uri, uri=str(data))

    assert statuses(run) == {"importer": "succeeded", "count_bytes": "succeeded"}
    attempt = run.tasks["importer"]
    # Hashed in a process of its own, with a log, like any task.
    assert attempt.pid is not None and attempt.pid != os.getpid()
    assert attempt.log_path and os.path.exists(attempt.log_path)
    artifact = _artifact(run)
    assert artifact.uri == str(data)
    assert artifact.record.digest == "sha256:" + hashlib.sha256(data.read_bytes()).hexdigest()
    assert artifact.record.size == data.stat().st_size
    assert artifact.record.type == "headwater.Dataset"
    assert artifact.metadata == {"source": "tests"}
    assert run.outputs("count_bytes")["output"] == data.stat().st_size


def test_lineage_links_the_importer_and_its_consumer(tmp_path: Path, workspace: Workspace) -> None:
    run = headwater.run(importers.import_uri, uri=str(_file(tmp_path)))
    artifact = _artifact(run).record
    events = t.lineage_events.c
    with workspace.store.engine.connect() as conn:
        links = set(
            conn.execute(
                sa.select(events.task_run_id, events.direction, events.input_name).where(
                    events.artifact_id == artifact.id
                )
            ).all()
        )
    assert links == {
        (run.tasks["importer"].id, "output", "artifact"),
        (run.tasks["count_bytes"].id, "input", "data"),
    }
    assert artifact.task_run_id == run.tasks["importer"].id


def test_reimport_false_reuses_the_artifact_found_by_uri(tmp_path: Path) -> None:
    data = _file(tmp_path)
    first = headwater.run(importers.import_uri, uri=str(data))
    data.write_text("changed, but reimport=False trusts the record\n")
    second = headwater.run(importers.import_uri, uri=str(data))

    assert second.tasks["importer"].status is TaskStatus.SUCCEEDED
    assert second.tasks["importer"].pid is None  # no attempt: the record was reused
    assert _artifact(second).record.id == _artifact(first).record.id
    assert second.tasks["count_bytes"].status is TaskStatus.CACHED


def test_downstream_tasks_cache_on_the_imported_digest(tmp_path: Path) -> None:
    data = _file(tmp_path)
    log = tmp_path / "count.log"
    first = headwater.run(importers.reimport_uri, uri=str(data), log=str(log))
    same = headwater.run(importers.reimport_uri, uri=str(data), log=str(log))
    assert _artifact(same).record.id != _artifact(first).record.id  # hashed again
    assert _artifact(same).record.digest == _artifact(first).record.digest
    assert same.tasks["count_bytes"].status is TaskStatus.CACHED

    data.write_text("other bytes\n")
    changed = headwater.run(importers.reimport_uri, uri=str(data), log=str(log))
    assert _artifact(changed).record.digest != _artifact(first).record.digest
    assert changed.tasks["count_bytes"].status is TaskStatus.SUCCEEDED
    assert log.read_text().count("ran") == 2


def test_a_folder_over_the_hashing_bound_fails_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workspace: Workspace
) -> None:
    data = _file(tmp_path, "x" * 100)
    monkeypatch.setenv("HEADWATER_IMPORT_MAX_BYTES", "64")
    run = headwater.run(importers.import_uri, uri=str(data.parent))

    assert statuses(run) == {"importer": "failed", "count_bytes": "upstream_failed"}
    error = run.tasks["importer"].error or ""
    assert "more than 64 bytes" in error and "HEADWATER_IMPORT_MAX_BYTES" in error
    assert workspace.store.lineage.find_artifact_by_uri(str(data.parent)) is None


def test_a_local_run_may_import_what_its_user_can_read() -> None:
    run = headwater.run(importers.import_uri, uri="/etc/hostname")
    assert run.status is RunStatus.SUCCEEDED
    assert _artifact(run).record.digest is not None


# ---------------------------------------------------------------------- server-created runs


def _deployed(ws: Workspace, pipeline: object) -> None:
    with compile_root(str(PIPELINES)):
        spec = pipeline.compile()  # type: ignore[attr-defined]
    deploy(ws, spec, str(PIPELINES))


def test_a_server_run_naming_a_uri_outside_its_roots_is_never_created(
    workspace: Workspace,
) -> None:
    _deployed(workspace, importers.import_uri)
    with pytest.raises(UriNotAllowed) as caught:
        trigger(workspace, "import_uri", {"uri": "/etc"})
    assert "task 'importer' would import '/etc' (parameter 'uri')" in str(caught.value)
    assert workspace.store.runs.list_runs(pipeline="import_uri") == []


def test_the_task_checks_a_uri_that_an_upstream_task_names(workspace: Workspace) -> None:
    _deployed(workspace, importers.import_from_output)
    run = trigger(workspace, "import_from_output", {"path": "/etc/hostname"})
    assert run.confined

    assert execute_run(workspace, run) is RunStatus.FAILED
    done = Run(workspace, run.id)
    assert statuses(done) == {
        "name_a_path": "succeeded",
        "importer": "failed",
        "count_bytes": "upstream_failed",
    }
    error = done.tasks["importer"].error or ""
    assert error.startswith("UriNotAllowed: '/etc/hostname' is outside the roots")
    assert "headwater roots add" in error
    assert workspace.store.lineage.find_artifact_by_uri("/etc/hostname") is None


def test_a_server_run_never_reuses_an_import_outside_its_roots(
    tmp_path: Path, workspace: Workspace
) -> None:
    data = _file(tmp_path)
    local = headwater.run(importers.import_uri, uri=str(data))  # a user's own run: allowed
    assert local.status is RunStatus.SUCCEEDED
    _deployed(workspace, importers.import_from_output)

    run = trigger(workspace, "import_from_output", {"path": str(data)})
    assert execute_run(workspace, run) is RunStatus.FAILED
    error = Run(workspace, run.id).tasks["importer"].error or ""
    assert f"'{data}' is outside the roots" in error

    workspace.store.roots.add(str(data.parent))
    again = trigger(workspace, "import_from_output", {"path": str(data)})
    assert execute_run(workspace, again) is RunStatus.SUCCEEDED
    # Allowed now, so the artifact the local run recorded is reused.
    assert Run(workspace, again.id).tasks["importer"].pid is None


def test_an_output_that_is_a_symbolic_link_is_refused(workspace: Workspace) -> None:
    run = headwater.run(importers.link_output, target="/etc/hostname")
    assert statuses(run) == {"link_out": "failed"}
    error = run.tasks["link_out"].error or ""
    assert "output artifact 'data' is a symbolic link" in error
    assert workspace.store.queries.page_artifacts(
        run_id=run.id, type_=None, name=None, limit=10, offset=0
    ) == ([], 0)
