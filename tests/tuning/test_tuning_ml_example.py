"""Tuning the scikit-learn example (examples/ml_pipeline.py), as a user would: seeded
studies over its regularisation strength ``c``, each trial a real run of the whole
pipeline (data, checks, features, training, evaluation, quality gate) in real task
processes.

- TPE converges where random search keeps wandering, on the same budget and seed;
- the median rule prunes about half the trials on the step-wise learning curve that
  ``train`` logs, cancelling their runs mid-training;
- ``headwater tune`` killed with SIGKILL resumes without repeating a finished trial;
- in every study the data preparation (make_dataset, validate_data, compute_features)
  runs once, and every other trial's run takes it from the cache.

The data is kept small (the studies' trials cost a task process each, not the fit)
except for pruning, where training must take long enough to be stopped part-way.
"""

from __future__ import annotations

import importlib
import os
import signal
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import optuna
import pytest
from tuner_process import command, tuner_env, wait_for_trials

import headwater
from headwater.engine import Run, Workspace
from headwater.states import RunStatus, TaskStatus
from headwater.tuning import StudyStatus, TrialState, study_result
from headwater.tuning._journal import DatabaseJournal

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PREPARATION = ("make_dataset", "validate_data", "compute_features")
# Log-uniform over seven decades: a quarter of it underfits badly (c < 1e-3).
SPACE = {"c": {"type": "float", "low": 1e-5, "high": 100.0, "log": True}}
# Every model is rejected by the gate (accuracy >= 1.0 never holds), so no trial copies
# a model into a registry: the objective is the evaluation's accuracy either way.
SMALL = {"n_samples": 1500, "min_accuracy": 1.0}


@pytest.fixture(scope="module")
def example() -> Any:
    sys.path.insert(0, str(EXAMPLES))
    try:
        return importlib.import_module("ml_pipeline")
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.fixture
def ws(home: Path) -> Iterator[Workspace]:
    opened = Workspace.open()
    yield opened
    opened.close()


def _preparation_ran_once(ws: Workspace, run_ids: Sequence[str | None]) -> None:
    """Each preparation step succeeded in one of these runs; every other one took it
    from that one."""
    assert run_ids
    for step in PREPARATION:
        states = [Run(ws, rid or "").task(step).status for rid in run_ids]
        assert states.count(TaskStatus.SUCCEEDED) == 1, (step, states)
        assert states.count(TaskStatus.CACHED) == len(run_ids) - 1, (step, states)


def test_seeded_tpe_converges_where_random_search_does_not(example: Any, ws: Workspace) -> None:
    budget = {"trials": 20, "seed": 7, "objective": "evaluate.accuracy", **SMALL}
    tpe = headwater.tune(example.ml_pipeline, space=SPACE, sampler="tpe", study="tpe", **budget)
    rnd = headwater.tune(
        example.ml_pipeline, space=SPACE, sampler="random", study="random", **budget
    )
    values: dict[str, list[float]] = {}
    for name, result in (("tpe", tpe), ("random", rnd)):
        assert result.status is StudyStatus.COMPLETED
        assert [t.state for t in result.trials] == [TrialState.COMPLETE] * 20
        values[name] = [t.value for t in result.trials if t.value is not None]
    # TPE starts with the same seeded random trials (its first ten), then samples where
    # the good ones were: its second half scores higher than random search's, and it
    # finds at least as good a model.
    assert values["tpe"][:10] == values["random"][:10]
    assert tpe.best_value is not None and rnd.best_value is not None
    assert tpe.best_value >= rnd.best_value
    guided, unguided = statistics.mean(values["tpe"][10:]), statistics.mean(values["random"][10:])
    assert guided > unguided + 0.03, (values["tpe"], values["random"])
    assert min(values["tpe"][10:]) > 0.75  # no more badly underfit models
    # The best trial's value is the accuracy its run's evaluation logged.
    best = Run(ws, tpe.best_run_id or "")
    assert best.metrics["evaluate"]["accuracy"] == tpe.best_value
    assert best.record.parameters["c"] == tpe.best_params["c"]
    # The data was prepared once for the forty runs of both studies.
    _preparation_ran_once(ws, [t.run_id for t in [*tpe.trials, *rnd.trials]])


def test_the_median_rule_prunes_about_half_the_trials_mid_training(
    example: Any, ws: Workspace
) -> None:
    # Enough rows that each of train's six learning-curve steps takes a noticeable time.
    result = headwater.tune(
        example.ml_pipeline,
        space=SPACE,
        objective="train.unseen_accuracy",
        trials=12,
        sampler="random",
        seed=5,
        pruner="median",
        study="pruned",
        n_samples=20000,
        n_features=40,
        min_accuracy=1.0,
    )
    pruned = [t for t in result.trials if t.state == TrialState.PRUNED]
    complete = [t for t in result.trials if t.state == TrialState.COMPLETE]
    assert len(pruned) + len(complete) == 12
    assert all(t.state == TrialState.COMPLETE for t in result.trials[:4])  # the median's start
    assert 2 <= len(pruned) <= 6, [(t.params, t.state) for t in result.trials]
    for trial in pruned:
        run = Run(ws, trial.run_id or "")
        assert run.status is RunStatus.CANCELLED
        assert run.task("train").status is TaskStatus.CANCELLED
        # Stopped mid-training: the model was never evaluated.
        assert "evaluate" not in {t.path for t in ws.store.tasks.task_runs(run.id)}
    for trial in complete:
        assert Run(ws, trial.run_id or "").status is RunStatus.SUCCEEDED
    # Each pruned trial was, at its last report, below the median of the trials that had
    # reported that step before it (Optuna's own record, replayed from the store).
    record = ws.store.studies.get_study("pruned")
    replayed = optuna.load_study(
        study_name="pruned",
        storage=optuna.storages.JournalStorage(DatabaseJournal(ws.store, record.id)),
    )
    trials = {t.number: t for t in replayed.get_trials(deepcopy=False)}
    for trial in pruned:
        reports = trials[trial.number].intermediate_values
        assert reports, trial
        step = max(reports)
        earlier = [
            t.intermediate_values[step]
            for n, t in trials.items()
            if n < trial.number and step in t.intermediate_values
        ]
        assert reports[step] < statistics.median(earlier), (trial.number, reports, earlier)
    _preparation_ran_once(ws, [t.run_id for t in result.trials])


def test_a_killed_tune_of_the_example_resumes_without_repeating_finished_trials(
    ws: Workspace, tmp_path: Path
) -> None:
    (tmp_path / "space.yaml").write_text("c: {type: float, low: 1.0e-5, high: 100, log: true}\n")
    args = ["tune", str(EXAMPLES / "ml_pipeline.py"), "--space", "space.yaml"]
    args += ["--objective", "evaluate.accuracy", "--trials", "6", "--seed", "11"]
    args += ["--study", "killed", "-p", "n_samples=1500", "-p", "min_accuracy=1.0"]
    with (tmp_path / "tune.log").open("wb") as log:
        tuner = subprocess.Popen(
            command(*args),
            cwd=tmp_path,
            env=tuner_env(),
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    try:
        wait_for_trials(ws, "killed", complete=2)
    finally:
        os.killpg(tuner.pid, signal.SIGKILL)
        tuner.wait(timeout=30)
    study = ws.store.studies.get_study("killed")
    assert study.status == StudyStatus.RUNNING  # as the killed tuner left it
    finished = [t for t in ws.store.studies.trials(study.id) if t.state == TrialState.COMPLETE]
    assert len(finished) >= 2

    done = subprocess.run(
        command("tune", "--resume", "killed"),
        cwd=tmp_path,
        env=tuner_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "study killed completed" in done.stdout

    result = study_result(ws.store, "killed")
    assert result.status is StudyStatus.COMPLETED
    kept = [t for t in result.trials if t.state != TrialState.LOST]
    assert len(kept) == 6 and all(t.state == TrialState.COMPLETE for t in kept)
    # The trials that had finished kept their runs and values, and were not run again:
    # one run of the experiment has each finished trial's parameters.
    runs = ws.store.runs.list_runs(experiment="killed", limit=100)
    for old in finished:
        now = next(t for t in result.trials if t.number == old.number)
        assert (now.run_id, now.value, now.params) == (old.run_id, old.value, old.params)
        assert [r.parameters["c"] for r in runs].count(old.params["c"]) == 1
    # Every run is a trial's; those the kill cut short are the only runs left unfinished.
    trial_runs = {t.run_id for t in result.trials}
    assert {r.id for r in runs} <= trial_runs
    for trial in kept:
        run = Run(ws, trial.run_id or "")
        assert run.status is RunStatus.SUCCEEDED
        assert run.record.parameters["c"] == trial.params["c"]
        assert run.metrics["evaluate"]["accuracy"] == trial.value
    _preparation_ran_once(ws, [t.run_id for t in kept])
