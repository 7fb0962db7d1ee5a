"""A tune step that cannot work is refused as the pipeline is defined, compiled, checked
or run, naming the step, the field and the fix; nothing is created."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tune_step_flow

import headwater
from headwater import component, pipeline, tune_step
from headwater.engine import Workspace, check_options
from headwater.errors import OptionNotHonoured, PipelineDefinitionError, ValidationError

SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0}}


def _define(**settings: Any) -> Any:
    """A pipeline whose tune step over ``training`` takes ``settings``."""
    chosen = {"space": SPACE, "objective": "fit.score", **settings}

    @pipeline
    def outer() -> None:
        tune_step(tune_step_flow.training, **chosen)

    return outer


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"sampler": "bayes"}, "sampler 'bayes' is not one of tpe, random, grid, cmaes, qmc"),
        ({"direction": "up"}, "direction 'up' is not one of maximize, minimize"),
        ({"trials": 0}, "trials must be a whole number from 1 to 100000, not 0"),
        ({"parallel": 1000}, "parallel must be a whole number from 1 to 256, not 1000"),
        (
            {"space": {"x": {"type": "float", "low": 2, "high": 1}}},
            "field 'low' (2) is greater than field 'high' (1)",
        ),
        ({"space": {"x": {"type": "float"}}}, "parameter 'x': field 'low' is missing"),
        ({"x": 0.5}, "parameter(s) x are both fixed and in the search space"),
        ({"objective": 3}, "objective must be 'TASK.METRIC', not 3"),
    ],
)
def test_bad_settings_are_refused_where_the_step_is_written(
    settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(PipelineDefinitionError) as caught:
        _define(**settings).compile()
    assert message in caught.value.message
    assert caught.value.message.startswith("tune_step(training): ")
    assert caught.value.location is not None and caught.value.location.line is not None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"space": {"depth": {"type": "int", "low": 1, "high": 4}}},
            "parameter 'depth' is not a parameter of pipeline 'training' "
            "(it takes: marks, pause, width, x)",
        ),
        (
            {"space": {"marks": {"type": "int", "low": 1, "high": 4}}},
            "parameter 'marks' is an int range, but the pipeline's parameter is str",
        ),
        ({"objective": "train.score"}, "pipeline 'training' has no task 'train'"),
        ({"objective": "score"}, "objective 'score' is not TASK.METRIC"),
        ({"study": "no spaces"}, "study 'no spaces' cannot prefix a study name"),
    ],
)
def test_what_needs_the_tuned_pipeline_is_refused_as_the_pipeline_compiles(
    settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        _define(**settings).compile()
    texts = [p.message for p in caught.value.problems]
    assert any(message in t for t in texts), texts
    problem = next(p for p in caught.value.problems if message in p.message)
    assert problem.message.startswith("tune step 'tune-training': ")
    assert problem.location.file is not None and problem.location.line is not None


def test_a_tuned_pipeline_cannot_hold_a_tune_step_of_its_own() -> None:
    with pytest.raises(ValidationError) as caught:
        _define_nested().compile()
    texts = [p.message for p in caught.value.problems]
    assert any("has a tune step of its own; a trial cannot start a study" in t for t in texts)


def _define_nested() -> Any:
    @pipeline
    def middle(marks: str = "") -> None:
        tune_step(tune_step_flow.training, space=SPACE, objective="fit.score", marks=marks)

    @component
    def score(marks: str) -> float:
        return 1.0

    @pipeline
    def middle_scored(marks: str = "") -> None:
        middle(marks=marks)
        score(marks=marks)

    @pipeline
    def outer() -> None:
        tune_step(
            middle_scored,
            space={"marks": {"choices": ["a", "b"]}},
            objective="score.value",
        )

    return outer


def test_options_set_on_a_tune_step_are_refused_before_the_run(home: Path) -> None:
    @pipeline
    def outer() -> None:
        step = tune_step(tune_step_flow.training, space=SPACE, objective="fit.score")
        step.set_options(retries=2, timeout="1h")

    spec = outer.compile()
    with pytest.raises(OptionNotHonoured) as caught:
        check_options(spec)
    assert caught.value.message.startswith(
        "task 'tune-training' sets retries=2, but 'tune-training' is a tune step, which runs "
        "no process of its own"
    )
    assert "set retries on the tasks of the tuned pipeline" in (caught.value.hint or "")
    with pytest.raises(OptionNotHonoured):
        headwater.run(outer)
    ws = Workspace.open()
    assert ws.store.runs.list_runs() == []  # nothing was created
    assert ws.store.studies.list_studies() == []
    ws.close()


def test_options_the_executor_cannot_honour_in_the_tuned_pipeline_are_refused(
    home: Path,
) -> None:
    @component(image="python:3.11")
    def greedy(x: float) -> None: ...

    @pipeline
    def needs_gpus(x: float = 0.0) -> None:
        greedy(x=x)

    @pipeline
    def outer() -> None:
        tune_step(needs_gpus, space=SPACE, objective="greedy.score")

    with pytest.raises(OptionNotHonoured) as caught:
        check_options(outer.compile())
    assert "task 'greedy' sets image='python:3.11'" in caught.value.message
    assert caught.value.location is not None
    assert caught.value.location.pipeline == "needs_gpus"


def test_headwater_validate_names_the_step_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "tune_step_flow.py").write_text(Path(tune_step_flow.__file__).read_text())
    (tmp_path / "bad.py").write_text(
        "from headwater import pipeline, tune_step\n"
        "from tune_step_flow import training\n\n\n"
        "@pipeline\n"
        "def bad() -> None:\n"
        "    tune_step(training, space={'x': {'type': 'float', 'low': 0, 'high': 1}},\n"
        "              objective='fitt.score')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", "from headwater.cli import run; run()", "validate", "bad.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"NO_COLOR": "1", "COLUMNS": "300", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 1
    text = done.stdout + done.stderr
    assert "tune step 'tune-training': objective 'fitt.score': pipeline 'training' has no " in text
    assert "bad.py:7" in text


def test_kubeflow_cannot_run_a_tune_step_and_says_so() -> None:
    from headwater.errors import ExportError
    from headwater.interop import to_kfp

    with pytest.raises(ExportError) as caught:
        to_kfp(tune_step_flow.nightly.compile(), root=str(Path(tune_step_flow.__file__).parent))
    text = str(caught.value)
    assert "is a tune step (a study over pipeline 'training')" in text
    assert "Katib" in text


def test_deploying_refuses_packages_of_the_tuned_pipeline_that_cannot_be_had(
    home: Path,
) -> None:
    from headwater.engine import deploy
    from headwater.errors import EnvError

    @component(packages=["tabulate==99.0"])
    def needs(x: float) -> None: ...

    @pipeline
    def packaged(x: float = 0.0) -> None:
        needs(x=x)

    @pipeline
    def outer() -> None:
        tune_step(packaged, space=SPACE, objective="needs.score")

    ws = Workspace.open()
    with pytest.raises(EnvError, match=r"tabulate==99\.0"):
        deploy(ws, outer.compile(), str(Path(__file__).parent))
    assert ws.store.pipelines.list_pipelines() == []  # nothing stored
    ws.close()
