"""Deployed versions: immutable specs with a source snapshot that later runs execute."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from engine_helpers import Cli

from headwater.engine import Workspace, collect_sources, deploy, run_version
from headwater.errors import ParameterError
from headwater.sdk import compile_root, load_pipeline
from headwater.states import RunStatus

_names = itertools.count()

HELPERS = 'GREETING = "hello"\n\n\ndef greet(name):\n    return f"{GREETING} {name}"\n'
PIPELINE = """
from headwater import component, pipeline
from {helpers} import greet


@component
def say(name: str) -> str:
    return greet(name)


@pipeline
def greeter(name: str = "world"):
    say(name=name)
"""


def project(tmp_path: Path) -> tuple[Path, str, str]:
    """A folder with a pipeline importing a helper module (unique module names per test)."""
    n = next(_names)
    helpers, main = f"deploy_helpers_{n}", f"deploy_pipeline_{n}"
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / f"{helpers}.py").write_text(HELPERS)
    (folder / f"{main}.py").write_text(PIPELINE.format(helpers=helpers))
    (folder / "unrelated.py").write_text("print('not imported by the pipeline')\n")
    return folder, main, helpers


def compiled(folder: Path, main: str):  # type: ignore[no-untyped-def]
    with compile_root(str(folder)):
        return load_pipeline(str(folder / f"{main}.py")).compile()


def test_snapshot_holds_the_component_modules_and_their_local_imports(tmp_path: Path) -> None:
    folder, main, helpers = project(tmp_path)
    sources = collect_sources(compiled(folder, main), str(folder))
    assert sorted(sources) == sorted([f"{main}.py", f"{helpers}.py"])
    assert sources[f"{helpers}.py"] == HELPERS.encode()


def test_unchanged_code_is_the_same_version_and_a_helper_change_is_a_new_one(
    tmp_path: Path, workspace: Workspace
) -> None:
    folder, main, helpers = project(tmp_path)
    spec = compiled(folder, main)
    first = deploy(workspace, spec, str(folder))
    again = deploy(workspace, spec, str(folder))
    assert first.new and not again.new and again.id == first.id

    (folder / f"{helpers}.py").write_text(HELPERS.replace("hello", "goodbye"))
    changed = deploy(workspace, spec, str(folder))  # same spec: only the helper changed
    assert changed.new and changed.id != first.id
    assert changed.spec_digest == first.spec_digest
    assert [v.id for v in workspace.store.pipelines.list_versions("greeter")] == [
        changed.id,
        first.id,
    ]


def test_an_old_version_runs_its_own_code_after_the_working_copy_changed(
    tmp_path: Path, workspace: Workspace
) -> None:
    folder, main, helpers = project(tmp_path)
    old = deploy(workspace, compiled(folder, main), str(folder))
    (folder / f"{helpers}.py").write_text(HELPERS.replace("hello", "goodbye"))
    new = deploy(workspace, compiled(folder, main), str(folder))

    old_run = run_version(workspace, old.id, {"name": "old"})
    new_run = run_version(workspace, new.id, {"name": "new"})
    assert old_run.status is RunStatus.SUCCEEDED and new_run.status is RunStatus.SUCCEEDED
    assert old_run.outputs("say")["output"] == "hello old"
    assert new_run.outputs("say")["output"] == "goodbye new"
    with pytest.raises(ParameterError, match="unknown parameter 'nope'"):
        run_version(workspace, old.id, {"nope": 1})


def test_cli_deploy_pipelines_and_trigger(tmp_path: Path, cli: Cli) -> None:
    folder, main, _ = project(tmp_path)
    target = str(folder / f"{main}.py")
    first = cli("deploy", target)
    assert first.returncode == 0, first.stderr
    assert "deployed greeter version" in first.stdout
    assert f"{main}.py" in first.stdout and "unrelated.py" not in first.stdout
    second = cli("deploy", target)
    assert second.returncode == 0 and "is unchanged" in second.stdout

    listed = cli("pipelines", "list")
    assert listed.returncode == 0 and "greeter" in listed.stdout

    ran = cli("trigger", "greeter", "-p", "name=cli")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "succeeded" in ran.stdout

    unknown = cli("trigger", "nobody")
    assert unknown.returncode == 1
    assert "pipeline 'nobody' has no deployed version" in unknown.stderr
    assert "headwater deploy" in unknown.stderr
    bad = cli("trigger", "greeter", "-p", "nope=1")
    assert bad.returncode == 1 and "unknown parameter 'nope'" in bad.stderr
