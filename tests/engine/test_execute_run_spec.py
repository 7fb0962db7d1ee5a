"""``execute_run`` takes the spec its caller just compiled, and refuses one of another version."""

from __future__ import annotations

from pathlib import Path

import pytest
import two_pipelines

from headwater.engine import Run, Workspace, create_run, execute_run
from headwater.errors import RunError
from headwater.sdk import compile_root
from headwater.spec import PipelineSpec
from headwater.states import RunStatus, TaskStatus

PIPELINES = Path(two_pipelines.__file__).resolve().parent


def _specs() -> tuple[PipelineSpec, PipelineSpec]:
    with compile_root(str(PIPELINES)):
        return two_pipelines.morning.compile(), two_pipelines.evening.compile()


def test_a_run_driven_with_its_compiled_spec_runs_like_one_read_from_the_store(
    workspace: Workspace,
) -> None:
    morning, _ = _specs()
    given = create_run(workspace, morning, {}, source_root=str(PIPELINES), cache=False)
    read = create_run(workspace, morning, {}, source_root=str(PIPELINES), cache=False)
    assert execute_run(workspace, given, spec=morning) is RunStatus.SUCCEEDED
    assert execute_run(workspace, read) is RunStatus.SUCCEEDED
    for run in (given, read):
        task = Run(workspace, run.id).task("hello")
        assert task.status is TaskStatus.SUCCEEDED
        assert Run(workspace, run.id).outputs("hello") == {"output": "hello morning"}


def test_a_spec_that_is_not_the_runs_version_is_refused_before_anything_runs(
    workspace: Workspace,
) -> None:
    morning, evening = _specs()
    run = create_run(workspace, morning, {}, source_root=str(PIPELINES), cache=False)
    with pytest.raises(RunError, match=f"not that of its pipeline version {run.version_id}"):
        execute_run(workspace, run, spec=evening)
    assert workspace.store.runs.get_run(run.id).status is RunStatus.QUEUED
    assert workspace.store.tasks.task_runs(run.id) == []
