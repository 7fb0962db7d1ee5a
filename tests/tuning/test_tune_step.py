"""A tune step: a study as one step of a pipeline, so that tuning can be scheduled and
deployed. Its trials are runs of the tuned pipeline; the best trial flows downstream; the
study survives the engine being killed, stops when the run is cancelled, and a study
that gives no best trial fails the step, saying why."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tune_step_flow

import headwater
from headwater.engine import Workspace
from headwater.errors import NotFound
from headwater.states import RunStatus, TaskStatus
from headwater.tuning import StudyStatus, TrialState, study_result


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update({"NO_COLOR": "1", "COLUMNS": "400", **extra})
    return env


def _command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from headwater.cli import run; run()", *args]


def _tune_record(ws: Workspace, run_id: str):  # type: ignore[no-untyped-def]
    return next(t for t in ws.store.tasks.task_runs(run_id) if t.path == "tune-training")


def test_a_tune_step_tunes_a_pipeline_and_hands_the_best_trial_downstream(
    database: str, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    run = headwater.run(tune_step_flow.nightly, marks=str(marks), width=2.0)
    assert run.status is RunStatus.SUCCEEDED, run.error

    ws = Workspace.open()
    tune = _tune_record(ws, run.id)
    assert tune.status is TaskStatus.SUCCEEDED
    study = tune.outputs["parameters"]["study"]
    assert study == tune.inputs["headwater.study"] and run.id.lower() in study
    result = study_result(ws.store, study)
    assert result.status is StudyStatus.COMPLETED
    assert [t.state for t in result.trials] == [TrialState.COMPLETE] * 6
    best = result.best_trial
    assert best is not None
    assert tune.outputs["parameters"] == {
        "best_params": best.params,
        "best_value": best.value,
        "best_run_id": best.run_id,
        "study": study,
    }
    # The best trial reached the task after the step.
    deployed = json.loads((marks / "deployed.json").read_text())
    assert deployed == {
        "params": best.params,
        "value": best.value,
        "run_id": best.run_id,
        "study": study,
    }
    assert run.outputs("deploy")["output"] == f"x={best.params['x']:.3f}"
    # Each trial is an ordinary run of the tuned pipeline, in the study's experiment, with
    # the parameter the step fixed (width, from the outer pipeline's own) and its own x.
    for trial in result.trials:
        trial_run = ws.store.runs.get_run(trial.run_id or "")
        assert (trial_run.pipeline, trial_run.trigger) == ("training", "tune")
        assert trial_run.experiment == study
        assert trial_run.parameters["width"] == 2.0
        assert trial_run.parameters["x"] == trial.params["x"]
        assert trial.value == pytest.approx(2.0 - (trial.params["x"] - 0.3) ** 2)
    # The data preparation every trial shares ran once; each trial fitted once.
    assert (marks / "prepare.log").read_text().splitlines() == ["prepare"]
    assert len((marks / "fit.log").read_text().splitlines()) == 6
    # The step's log tells the study's story, a line per trial event.
    log = Path(tune.log_path or "").read_text()
    assert f"study {study}: 6 trials of pipeline 'training'" in log
    assert log.count(" complete value=") == 6
    ws.close()


def test_the_engine_killed_mid_study_resumes_it_without_repeating_finished_trials(
    home: Path, tmp_path: Path
) -> None:
    (tmp_path / "tune_step_flow.py").write_text(Path(tune_step_flow.__file__).read_text())
    marks = tmp_path / "marks"
    args = ["run", "tune_step_flow.py:nightly", "-p", f"marks={marks}", "-p", "pause=0.6"]
    with (tmp_path / "run.log").open("wb") as log:
        engine = subprocess.Popen(
            _command(*args),
            cwd=tmp_path,
            env=_env(),
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    ws = Workspace.open()
    try:
        study = _wait_for_trials(ws, complete=2)
    finally:
        os.killpg(engine.pid, signal.SIGKILL)
        engine.wait(timeout=30)
    before = {t.number: t for t in ws.store.studies.trials(ws.store.studies.get_study(study).id)}
    finished = {n: t for n, t in before.items() if t.state == TrialState.COMPLETE}
    assert len(finished) >= 2
    run_id = ws.store.runs.list_runs(pipeline="nightly")[0].id

    done = subprocess.run(
        _command("resume", run_id),
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert ws.store.runs.get_run(run_id).status is RunStatus.SUCCEEDED
    tune = _tune_record(ws, run_id)
    assert tune.status is TaskStatus.SUCCEEDED and tune.attempt == 1
    assert tune.outputs["parameters"]["study"] == study  # the same study went on
    result = study_result(ws.store, study)
    kept = [t for t in result.trials if t.state != TrialState.LOST]
    assert [t.state for t in kept] == [TrialState.COMPLETE] * 6, done.stdout + done.stderr
    fitted = (marks / "fit.log").read_text().splitlines()
    for number, old in finished.items():
        now = next(t for t in result.trials if t.number == number)
        assert (now.run_id, now.value, now.params) == (old.run_id, old.value, old.params)
        assert fitted.count(repr(old.params["x"])) == 1  # not run again
    assert (marks / "prepare.log").read_text().splitlines() == ["prepare"]
    ws.close()


def _wait_for_trials(ws: Workspace, complete: int, timeout: float = 90) -> str:
    """The name of the one study, once ``complete`` of its trials ended and another runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            studies = ws.store.studies.list_studies()
        except NotFound:
            studies = []
        for record in studies:
            trials = ws.store.studies.trials(record.id)
            ended = [t for t in trials if t.state == TrialState.COMPLETE]
            running = [t for t in trials if t.state == TrialState.RUNNING and t.run_id]
            if len(ended) >= complete and running:
                return record.name
        time.sleep(0.05)
    raise AssertionError(f"no study got {complete} trials done in {timeout}s")


def test_cancelling_the_run_stops_its_study(home: Path, tmp_path: Path) -> None:
    (tmp_path / "tune_step_flow.py").write_text(Path(tune_step_flow.__file__).read_text())
    marks = tmp_path / "marks"
    args = ["run", "tune_step_flow.py:nightly", "-p", f"marks={marks}", "-p", "pause=5"]
    engine = subprocess.Popen(
        _command(*args),
        cwd=tmp_path,
        env=_env(HEADWATER_HEARTBEAT_SECONDS="0.2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    ws = Workspace.open()
    try:
        study = _wait_for_trials(ws, complete=0)
        run_id = ws.store.runs.list_runs(pipeline="nightly")[0].id
        cancel = subprocess.run(
            _command("runs", "cancel", run_id),
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cancel.returncode == 0, cancel.stdout + cancel.stderr
        engine.wait(timeout=60)
    finally:
        if engine.poll() is None:
            os.killpg(engine.pid, signal.SIGKILL)
    assert ws.store.runs.get_run(run_id).status is RunStatus.CANCELLED
    assert _tune_record(ws, run_id).status is TaskStatus.CANCELLED
    assert study_result(ws.store, study).status is StudyStatus.INTERRUPTED
    # No trial run is left running: each was cancelled with the study.
    for trial in ws.store.studies.trials(ws.store.studies.get_study(study).id):
        if trial.run_id:
            assert ws.store.runs.get_run(trial.run_id).status is RunStatus.CANCELLED
    ws.close()


def test_a_study_with_no_completed_trial_fails_the_step_saying_why(home: Path) -> None:
    run = headwater.run(tune_step_flow.hopeless_nightly)
    assert run.status is RunStatus.FAILED
    ws = Workspace.open()
    tasks = {t.path: t for t in ws.store.tasks.task_runs(run.id)}
    tune = tasks["tune-hopeless"]
    assert tune.status is TaskStatus.FAILED
    study = tune.inputs["headwater.study"]
    assert tune.error == (
        f"study {study} gave no best trial: no trial completed (0 complete, 2 failed, "
        f"0 pruned); see its trials with 'headwater studies show {study}'"
    )
    assert tasks["after"].status is TaskStatus.UPSTREAM_FAILED
    ws.close()
