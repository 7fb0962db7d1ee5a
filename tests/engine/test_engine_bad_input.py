"""Bad parameters, bad return values, missing outputs and impossible requests are clear
errors."""

from __future__ import annotations

import re
import time
from pathlib import Path

import engine_misc
import pytest
from engine_helpers import Cli, attempts, write_pipeline

import headwater
from headwater.engine import Workspace
from headwater.errors import ParameterError
from headwater.states import RunStatus, TaskStatus

PARAMS = """
from headwater import component, pipeline

@component
def square(n: int) -> int:
    return n * n

@pipeline
def engine_cli_params(n: int = 2):
    square(n=n)
"""


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        ("nope=1", "unknown parameter 'nope'"),
        ("n=abc", "parameter 'n'"),
        ("n=1.5", "parameter 'n'"),
    ],
)
def test_a_bad_parameter_on_the_command_line_exits_1_naming_it(
    tmp_path: Path, cli: Cli, param: str, expected: str
) -> None:
    file = write_pipeline(tmp_path, "engine_cli_params", PARAMS)
    done = cli("run", file, "-p", param)

    assert done.returncode == 1, done.stdout + done.stderr
    assert expected in done.stderr
    assert "Traceback" not in done.stderr
    ws = Workspace.open()
    try:
        assert ws.store.runs.list_runs() == [], "a run was created with bad parameters"
    finally:
        ws.close()


def test_headwater_run_raises_parameter_error_naming_the_parameter(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="unknown parameter 'nope'"):
        headwater.run(engine_misc.engine_too_many_gpus, marker="m", nope=1)
    with pytest.raises(ParameterError, match="parameter 'marker'"):
        headwater.run(engine_misc.engine_too_many_gpus, marker=12)
    with pytest.raises(ParameterError, match="missing required parameter 'marker'"):
        headwater.run(engine_misc.engine_too_many_gpus)


def test_a_return_value_that_does_not_match_its_annotation_fails_the_task() -> None:
    run = headwater.run(engine_misc.engine_wrong_return)

    assert run.status is RunStatus.FAILED
    (row,) = attempts(run, "wrong_return")
    assert row.status is TaskStatus.FAILED
    error = row.error or ""
    assert "component 'wrong_return' returned a value that does not match its annotation" in error
    assert "'not a number' is a str, not int" in error


def test_an_output_artifact_never_written_fails_the_task_naming_it() -> None:
    run = headwater.run(engine_misc.engine_missing_output)

    assert run.status is RunStatus.FAILED
    (row,) = attempts(run, "forgets_output")
    assert row.status is TaskStatus.FAILED
    assert "output artifact 'data' was never written" in (row.error or "")


def test_asking_for_64_gpus_fails_at_once_without_a_process(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    started = time.monotonic()
    run = headwater.run(engine_misc.engine_too_many_gpus, marker=str(marker))

    assert time.monotonic() - started < 10
    assert run.status is RunStatus.FAILED
    (row,) = attempts(run, "greedy")
    assert row.status is TaskStatus.FAILED
    assert row.pid is None and row.log_path is None
    assert not marker.exists(), "the task ran"
    error = row.error or ""
    assert "asks for 64 GPU(s)" in error
    has = re.search(r"this machine has (\d+)", error)  # what nvidia-smi lists, here
    assert has is not None and int(has.group(1)) < 64, error


def test_the_gpu_count_in_the_error_is_the_machines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWATER_GPUS", "3")
    run = headwater.run(engine_misc.engine_too_many_gpus, marker=str(tmp_path / "ran"))

    (row,) = attempts(run, "greedy")
    assert row.status is TaskStatus.FAILED
    assert "this machine has 3" in (row.error or "")
