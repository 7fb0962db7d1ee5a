"""What the warm worker holds: the imports of the pipeline being run, read from its
components' bodies and learned from its tasks (helpers' imports too), never another
pipeline's of the same file; and no worker at all for a run served from the cache."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import warm_flow
from engine_helpers import cli_env, headwater_command

from headwater.engine import Workspace, create_run, execute_run
from headwater.executors import LearnedImports, LocalExecutor
from headwater.sdk import compile_root
from headwater.states import RunStatus

PIPELINES = Path(warm_flow.__file__).resolve().parent
FLOW = PIPELINES / "warm_flow.py"

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder outside the pipeline's holding ``warm_helper_dep``, importable by the
    engine (and so by its workers and tasks), as an installed library would be."""
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "warm_helper_dep.py").write_text("def square(x):\n    return x * x\n")
    monkeypatch.syspath_prepend(str(folder))
    return folder


@pytest.fixture
def cli(tmp_path: Path, home: Path, library: Path) -> Cli:
    """``cli(*args)``: the ``headwater`` command, with ``library`` importable."""

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        env = {**cli_env(), "PYTHONPATH": str(library)}
        return subprocess.run(
            [*headwater_command(), *(str(a) for a in args)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def _held(ws: Workspace, pipeline: str) -> dict[str, list[str]]:
    """What each task of the newest run of ``pipeline`` said its process held at start."""
    run = ws.store.runs.list_runs(pipeline=pipeline, limit=1)[0]
    assert run.status is RunStatus.SUCCEEDED, run.error
    return {
        t.path: (t.outputs or {})["parameters"]["output"] for t in ws.store.tasks.task_runs(run.id)
    }


def test_a_worker_preloads_what_the_pipelines_tasks_were_seen_to_import(
    cli: Cli, workspace: Workspace
) -> None:
    first = cli("run", f"{FLOW}:heavy", "--no-cache")
    assert first.returncode == 0, first.stderr

    # The body's import was read from the source (the pipeline's tasks share a worker);
    # the helper's was not there to read.
    assert _held(workspace, "heavy") == {
        "through_helper": ["warm_body_dep"],
        "in_body": ["warm_body_dep"],
    }

    second = cli("run", f"{FLOW}:heavy", "--no-cache")
    assert second.returncode == 0, second.stderr
    # The first run's tasks reported what they imported: the worker now holds the
    # library; never the project's own module, whose import each task makes itself.
    assert _held(workspace, "heavy") == {
        "through_helper": ["warm_helper_dep", "warm_body_dep"],
        "in_body": ["warm_helper_dep", "warm_body_dep"],
    }


def test_a_pipeline_gets_a_worker_without_the_imports_of_another_in_its_file(
    cli: Cli, workspace: Workspace
) -> None:
    for _ in range(2):  # learned from the first, preloaded in the second
        assert cli("run", f"{FLOW}:heavy", "--no-cache").returncode == 0
    done = cli("run", f"{FLOW}:light", "--no-cache")
    assert done.returncode == 0, done.stderr

    assert _held(workspace, "light") == {"probe": []}


def test_what_was_learned_is_kept_per_pipeline_under_the_home(
    cli: Cli, home: Path, workspace: Workspace
) -> None:
    assert cli("run", f"{FLOW}:heavy", "--no-cache").returncode == 0

    learned = LearnedImports(home, str(PIPELINES), "warm_flow.py")
    assert "warm_helper_dep" in learned.modules("heavy", ["through_helper"])
    assert "warm_project_dep" not in learned.modules("heavy")
    assert learned.modules("light") == []
    (kept,) = (home / "imports").glob("*.json")
    data = json.loads(kept.read_text())
    assert data["file"] == "warm_flow.py" and data["pipelines"]["heavy"]["ran"] is True


def test_a_damaged_file_of_learned_imports_is_ignored(
    cli: Cli, home: Path, workspace: Workspace
) -> None:
    assert cli("run", f"{FLOW}:heavy", "--no-cache").returncode == 0
    (kept,) = (home / "imports").glob("*.json")
    for damage in (
        b"\xff\xfe not json",
        json.dumps({"version": 1, "pipelines": {"heavy": {"components": {"x": ["os; rm"]}}}}),
        json.dumps({"version": 1, "pipelines": ["heavy"]}),
    ):
        kept.write_bytes(damage if isinstance(damage, bytes) else damage.encode())
        assert LearnedImports(home, str(PIPELINES), "warm_flow.py").modules("heavy") == []
        done = cli("run", f"{FLOW}:heavy", "--no-cache")
        assert done.returncode == 0, done.stderr


def _run(ws: Workspace, params: dict[str, Any]) -> tuple[RunStatus, LocalExecutor]:
    with compile_root(str(PIPELINES)):
        spec = warm_flow.heavy.compile()
    executor = LocalExecutor()
    run = create_run(ws, spec, params, source_root=str(PIPELINES), executor=executor)
    status = execute_run(ws, run, executor=executor)
    return status, executor


def test_a_run_served_from_the_cache_starts_no_worker(workspace: Workspace, library: Path) -> None:
    status, executor = _run(workspace, {"seed": 3})
    assert status is RunStatus.SUCCEEDED
    assert executor.workers_started == 1

    status, executor = _run(workspace, {"seed": 3})
    assert status is RunStatus.SUCCEEDED
    assert executor.workers_started == 0
    run = workspace.store.runs.list_runs(pipeline="heavy", limit=1)[0]
    assert {t.status.value for t in workspace.store.tasks.task_runs(run.id)} == {"cached"}

    # A run with a task to run starts one.
    status, executor = _run(workspace, {"seed": 4})
    assert status is RunStatus.SUCCEEDED and executor.workers_started == 1


def test_a_quick_tasks_start_is_recorded_with_its_end(workspace: Workspace, library: Path) -> None:
    status, _ = _run(workspace, {"seed": 5})
    assert status is RunStatus.SUCCEEDED
    run = workspace.store.runs.list_runs(pipeline="heavy", limit=1)[0]
    for task in workspace.store.tasks.task_runs(run.id):
        assert task.pid is not None and task.node is not None
        assert task.started_at is not None and task.finished_at is not None
        assert task.started_at <= task.finished_at
    assert os.listdir(workspace.work_dir / run.id) == []  # no task file left behind
