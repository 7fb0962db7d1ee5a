"""Bad spaces, objectives and settings are clear errors, and create nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tuning_flow

import headwater
from headwater.engine import Workspace
from headwater.errors import HeadwaterError, ParameterError, TuningError

GOOD: dict[str, Any] = {
    "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
    "objective": "train.score",
}


@pytest.fixture
def ws(home: Path) -> Iterator[Workspace]:
    opened = Workspace.open()
    yield opened
    opened.close()


def _nothing_created(ws: Workspace) -> None:
    assert ws.store.studies.list_studies() == []
    assert ws.store.runs.list_runs() == []


@pytest.mark.parametrize(
    ("changes", "error", "expected"),
    [
        ({"objective": "score"}, TuningError, "objective 'score' is not TASK.METRIC"),
        ({"objective": "fit.score"}, TuningError, "pipeline 'quadratic' has no task 'fit'"),
        ({"direction": "up"}, TuningError, "direction 'up' is not one of maximize, minimize"),
        ({"sampler": "bayes"}, TuningError, "sampler 'bayes' is not one of tpe, random"),
        ({"pruner": "asha"}, TuningError, "pruner 'asha' is not one of median, hyperband, none"),
        ({"trials": 0}, TuningError, "trials must be a whole number from 1"),
        ({"parallel": 0}, TuningError, "parallel must be a whole number from 1"),
        ({"max_failed": 0}, TuningError, "max failed trials must be a whole number above 0"),
        ({"seed": -1}, TuningError, "seed must be a whole number from 0 up"),
        ({"study": "bad name!"}, TuningError, "study name 'bad name!' is not valid"),
        (
            {"space": {"z": {"type": "int", "low": 0, "high": 2}}},
            TuningError,
            "'z' is not a parameter",
        ),
        (
            {"space": {"x": {"type": "float", "low": 0, "high": 1}}, "sampler": "grid"},
            TuningError,
            "'x' is a float without a step",
        ),
        ({"x": 0.5}, TuningError, "x are both fixed and in the search space"),
        ({"unknown": 1}, ParameterError, "unknown parameter 'unknown'"),
        ({"log_dir": 3}, ParameterError, "parameter 'log_dir'"),
    ],
)
def test_a_bad_study_is_refused_before_anything_is_created(
    ws: Workspace, changes: dict[str, Any], error: type[HeadwaterError], expected: str
) -> None:
    kwargs = {**GOOD, **changes}
    with pytest.raises(error) as caught:
        headwater.tune(tuning_flow.quadratic, **kwargs)
    assert expected in str(caught.value)
    _nothing_created(ws)


def test_a_study_name_cannot_be_taken_twice(ws: Workspace) -> None:
    headwater.tune(
        tuning_flow.conditional,
        space={"lr": {"type": "float", "low": 0, "high": 1}},
        objective="choose.score",
        trials=1,
        study="once",
    )
    runs = len(ws.store.runs.list_runs())
    with pytest.raises(TuningError, match="a study named 'once' already exists"):
        headwater.tune(
            tuning_flow.conditional,
            space={"lr": {"type": "float", "low": 0, "high": 1}},
            objective="choose.score",
            trials=1,
            study="once",
        )
    assert len(ws.store.runs.list_runs()) == runs


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update({"NO_COLOR": "1", "COLUMNS": "400"})
    return subprocess.run(
        [sys.executable, "-c", "from headwater.cli import run; run()", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "tuning_flow.py").write_text(Path(tuning_flow.__file__).read_text())
    (tmp_path / "space.yaml").write_text("x: {type: float, low: 0.0, high: 1.0}\n")
    return tmp_path


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--objective", "train.score"], "headwater tune needs --space"),
        (["--space", "space.yaml"], "headwater tune needs --objective"),
        (["--space", "nope.yaml", "--objective", "train.score"], "cannot read the search space"),
        (
            ["--space", "space.yaml", "--objective", "train.score", "--pruner", "asha"],
            "pruner 'asha'",
        ),
        (
            ["--space", "space.yaml", "--objective", "train.score", "--trials", "0"],
            "trials must be",
        ),
        (
            ["--space", "space.yaml", "--objective", "train.score", "--parallel", "-1"],
            "parallel must be",
        ),
        (["--space", "space.yaml", "--objective", "nope.score"], "has no task 'nope'"),
        (["--space", "space.yaml", "--objective", "train.score", "-p", "x=1"], "both fixed and in"),
    ],
)
def test_the_cli_refuses_bad_flags_with_the_reason(
    project: Path, ws: Workspace, args: list[str], expected: str
) -> None:
    done = _cli(project, "tune", "tuning_flow.py:quadratic", *args)
    assert done.returncode == 1, done.stdout + done.stderr
    assert expected in done.stderr
    _nothing_created(ws)


def test_the_cli_cannot_resume_what_does_not_exist_or_take_both(
    project: Path, ws: Workspace
) -> None:
    done = _cli(project, "tune", "--resume", "ghost")
    assert done.returncode == 1 and "no study named 'ghost'" in done.stderr
    done = _cli(project, "tune", "tuning_flow.py", "--resume", "ghost")
    assert done.returncode == 1 and "not both" in done.stderr
    done = _cli(project, "tune")
    assert done.returncode == 1 and "needs FILE, --space, --objective" in done.stderr
    _nothing_created(ws)
