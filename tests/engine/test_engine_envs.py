"""Per-step environments in runs, with the real uv and package index: each step sees its
own packages and none of the engine's, a bad requirement stops the run before it starts,
and the lock joins the cache key."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import envs_flow
import pytest
from engine_helpers import Cli, statuses

import headwater
from headwater.engine import Workspace, execute_run
from headwater.envs import envs_dir
from headwater.errors import EnvError
from headwater.spec import digest, to_data
from headwater.states import RunStatus, TaskStatus
from headwater.store import process_owner

PIPELINES = Path(envs_flow.__file__).parent


def test_a_step_imports_its_package_which_the_engine_does_not_have() -> None:
    assert importlib.util.find_spec("tabulate") is None, "the engine must lack tabulate"
    run = headwater.run(envs_flow.envs_two_pins)
    assert run.status is RunStatus.SUCCEEDED, run.tasks
    assert run.outputs("envs_table")["output"] == "0.9.0"
    log = run.logs("envs_table")
    assert "name      n" in log  # tabulate's table
    assert "[headwater] environment sha256:" in log  # which environment it ran in


def test_two_steps_of_one_run_with_conflicting_pins_each_see_their_own_version() -> None:
    run = headwater.run(envs_flow.envs_two_pins)
    assert run.outputs("envs_join")["output"] == "0.9.0/0.8.10"
    assert run.outputs("envs_old_table")["output"] == "0.8.10"


def test_a_step_in_an_environment_cannot_import_the_engines_packages() -> None:
    assert importlib.util.find_spec("sqlalchemy") is not None
    run = headwater.run(envs_flow.envs_isolation)
    assert run.outputs("envs_engine_packages")["output"] == "none"
    # A fresh interpreter in an environment is that environment's Python.
    prefix = Path(run.outputs("envs_fresh_prefix")["output"])
    assert prefix.parent == envs_dir()


def test_a_bad_requirement_fails_the_start_naming_component_and_package() -> None:
    ws = Workspace.open()
    with pytest.raises(EnvError) as info:
        headwater.run(envs_flow.envs_bad_requirement)
    message = str(info.value)
    assert "component 'envs_broken'" in message
    assert "no-such-package-hw-xyz" in message
    assert ws.store.runs.list_runs() == []  # nothing was recorded, no task ran


def test_a_bad_requirement_in_a_run_created_elsewhere_fails_it_before_any_task_runs() -> None:
    # As a scheduler does: the run is recorded first, and its engine resolves at start.
    ws = Workspace.open()
    spec = envs_flow.envs_bad_requirement.compile()
    version = ws.store.pipelines.register_version(
        spec.name, spec.description, digest(spec), to_data(spec), str(PIPELINES)
    )
    record = ws.store.runs.create_run(version, {}, owner=process_owner(), confined=False)

    status = execute_run(ws, record)

    assert status is RunStatus.FAILED
    run = ws.store.runs.get_run(record.id)
    assert "component 'envs_broken'" in (run.error or "")
    assert "no-such-package-hw-xyz" in (run.error or "")
    assert ws.store.tasks.task_runs(record.id) == []


def test_a_changed_pin_invalidates_the_cache_of_that_step_only() -> None:
    first = headwater.run(envs_flow.envs_six_16)
    assert first.outputs("envs_version")["output"] == "1.16.0"
    again = headwater.run(envs_flow.envs_six_16)
    assert statuses(again) == {"envs_version": "cached", "envs_join": "cached"}

    changed = headwater.run(envs_flow.envs_six_17)

    assert changed.tasks["envs_version"].status is TaskStatus.SUCCEEDED
    assert changed.outputs("envs_version")["output"] == "1.17.0"
    assert changed.tasks["envs_join"].status is TaskStatus.CACHED


def test_a_pipeline_level_default_applies_unless_a_task_sets_its_own() -> None:
    run = headwater.run(envs_flow.envs_pipeline_default)
    assert run.outputs("envs_version")["output"] == "1.17.0"
    assert run.outputs("envs_version-2")["output"] == "1.16.0"


def test_headwater_run_fails_at_once_on_a_bad_requirement(cli: Cli) -> None:
    target = f"{PIPELINES / 'envs_flow.py'}:envs_bad_requirement"
    result = cli("run", target)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "component 'envs_broken'" in result.stderr
    assert "no-such-package-hw-xyz" in result.stderr
    ws = Workspace.open()
    assert ws.store.runs.list_runs() == []


def test_headwater_run_shows_a_build_and_the_task_log_has_its_output(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWATER_ENVS_DIR", str(tmp_path / "fresh-envs"))  # built now
    result = cli("run", f"{PIPELINES / 'envs_flow.py'}:envs_two_pins")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "building environment sha256:" in result.stdout
    assert "(tabulate==0.9.0) built in" in result.stdout
    logs = list((Path(cli_home()) / "logs").rglob("envs_table.attempt-1.log"))
    text = logs[0].read_text()
    assert "was built for this run" in text
    assert "+ tabulate==0.9.0" in text  # uv's own output


def cli_home() -> str:
    import os

    return os.environ["HEADWATER_HOME"]


def test_deploying_a_bad_requirement_is_refused_and_stores_nothing() -> None:
    from headwater.engine import deploy

    ws = Workspace.open()
    spec = envs_flow.envs_bad_requirement.compile()
    with pytest.raises(EnvError, match=r"component 'envs_broken'.*no-such-package-hw-xyz"):
        deploy(ws, spec, str(PIPELINES))
    assert ws.store.pipelines.list_pipelines() == []
