"""Studies end to end: each trial a real run, the study and its journal in the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import tuning_flow

import headwater
from headwater.engine import Run, Workspace
from headwater.errors import TuningError
from headwater.states import RunStatus, TaskStatus
from headwater.tuning import DatabaseJournal, StudyStatus, TrialState, study_result

XY = {
    "x": {"type": "float", "low": 0.0, "high": 1.0},
    "y": {"type": "float", "low": 0.0, "high": 1.0},
}


@pytest.fixture
def ws(home: Path) -> Iterator[Workspace]:
    opened = Workspace.open()
    yield opened
    opened.close()


def test_trials_are_runs_of_the_study_and_share_one_data_preparation(
    database: str, tmp_path: Path, ws: Workspace
) -> None:
    logs = tmp_path / "logs"
    result = headwater.tune(
        tuning_flow.quadratic,
        space=XY,
        objective="train.score",
        trials=8,
        parallel=2,
        seed=1,
        study="quad",
        log_dir=str(logs),
    )

    assert result.status is StudyStatus.COMPLETED
    assert len(result.trials) == 8
    assert all(t.state == TrialState.COMPLETE for t in result.trials)
    # The preparation every trial shares ran once; the other trials hit the cache.
    assert (logs / "executions.log").read_text().splitlines() == ["prepare"]
    runs = ws.store.runs.list_runs(experiment="quad", limit=100)
    assert {r.id for r in runs} == {t.run_id for t in result.trials}
    prepares = [Run(ws, r.id).task("prepare").status for r in runs]
    assert sorted(prepares).count(TaskStatus.SUCCEEDED) == 1
    assert prepares.count(TaskStatus.CACHED) == 7
    # Each trial's value is the score its run's train task logged, with its parameters.
    for trial in result.trials:
        run = Run(ws, trial.run_id or "")
        assert run.status is RunStatus.SUCCEEDED
        assert run.metrics["train"]["score"] == trial.value
        assert run.record.parameters["x"] == trial.params["x"]
    assert result.best_value == max(t.value for t in result.trials if t.value is not None)
    assert result.best_run_id == next(
        t.run_id for t in result.trials if t.value == result.best_value
    )
    # Optuna's own view, replayed from the journal in the store, agrees.
    study = ws.store.studies.get_study("quad")
    replayed = optuna.load_study(
        study_name="quad",
        storage=optuna.storages.JournalStorage(DatabaseJournal(ws.store, study.id)),
    )
    assert len(replayed.trials) == 8
    assert replayed.best_value == result.best_value
    assert replayed.best_params == result.best_params


def test_a_conditional_parameter_keeps_the_pipeline_default_where_it_does_not_apply(
    ws: Workspace,
) -> None:
    result = headwater.tune(
        tuning_flow.conditional,
        space={
            "optimizer": {"choices": ["sgd", "adam"]},
            "momentum": {"type": "float", "low": 0.5, "high": 0.9, "when": {"optimizer": "sgd"}},
        },
        objective="choose.score",
        trials=8,
        sampler="random",
        seed=2,
    )
    kinds = set()
    for trial in result.trials:
        params = ws.store.runs.get_run(trial.run_id or "").parameters
        kinds.add(params["optimizer"])
        if params["optimizer"] == "sgd":
            assert 0.5 <= params["momentum"] <= 0.9 and "momentum" in trial.params
        else:
            assert params["momentum"] == 0.0 and "momentum" not in trial.params
    assert kinds == {"sgd", "adam"}


def test_the_grid_sampler_tries_every_point_once(ws: Workspace) -> None:
    result = headwater.tune(
        tuning_flow.conditional,
        space={
            "optimizer": {"choices": ["sgd", "adam"]},
            "layers": {"type": "int", "low": 1, "high": 3},
        },
        objective="choose.score",
        sampler="grid",
        trials=50,
        parallel=2,
    )
    points = sorted((t.params["optimizer"], t.params["layers"]) for t in result.trials)
    assert points == sorted((o, n) for o in ("sgd", "adam") for n in (1, 2, 3))
    assert result.best_params == {"optimizer": "adam", "layers": 3}


def test_the_study_stops_once_the_objective_goal_is_reached(ws: Workspace) -> None:
    result = headwater.tune(
        tuning_flow.sleepy,
        space={"x": {"type": "float", "low": 0.0, "high": 1.0}},
        objective="slow.score",
        trials=30,
        sampler="random",
        seed=0,
        goal=0.5,
        pause=0.0,
        marks=str(ws.settings.home / "marks"),
    )
    assert result.status is StudyStatus.GOAL_REACHED
    assert (result.best_value or 0) >= 0.5
    assert len(result.trials) < 30
    assert result.trials[-1].value == result.best_value  # the trial that reached it ends it


def test_too_many_failed_trials_stop_the_study(ws: Workspace) -> None:
    result = headwater.tune(
        tuning_flow.failing,
        space={"x": {"type": "float", "low": 1.0, "high": 2.0}},
        objective="flaky.score",
        trials=20,
        max_failed=3,
    )
    assert result.status is StudyStatus.FAILED
    assert result.count(TrialState.FAILED) == 3
    assert len(result.trials) == 3
    for trial in result.trials:
        assert ws.store.runs.get_run(trial.run_id or "").status is RunStatus.FAILED
    assert result.best_trial is None


def test_an_objective_the_task_never_logs_ends_the_study_with_a_clear_error(
    ws: Workspace,
) -> None:
    with pytest.raises(TuningError) as caught:
        headwater.tune(
            tuning_flow.conditional,
            space={"lr": {"type": "float", "low": 0.0, "high": 1.0}},
            objective="choose.accuracy",
            trials=5,
            study="nometric",
        )
    text = str(caught.value)
    assert "task 'choose'" in text and "logged no metric 'accuracy'" in text
    assert "(it logged: score)" in text
    result = study_result(ws.store, "nometric")
    assert result.status is StudyStatus.FAILED
    assert [t.state for t in result.trials] == [TrialState.FAILED]
