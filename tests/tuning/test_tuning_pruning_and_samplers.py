"""Pruning on the step-wise metrics a task logs while it runs, and samplers compared."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import tuning_flow

import headwater
from headwater.engine import Run, Workspace
from headwater.states import RunStatus
from headwater.tuning import TrialState

XY = {
    "x": {"type": "float", "low": 0.0, "high": 1.0},
    "y": {"type": "float", "low": 0.0, "high": 1.0},
}


@pytest.fixture
def ws(home: Path) -> Iterator[Workspace]:
    opened = Workspace.open()
    yield opened
    opened.close()


def test_the_median_pruner_stops_about_half_the_trials_and_cancels_their_runs(
    ws: Workspace,
) -> None:
    # Each step's score is x times the step: a trial below the median of earlier trials
    # at a step stays below it. After 4 trials that run to the end, about half of the
    # rest are pruned, while their task is still running (8 steps of 0.15 s).
    result = headwater.tune(
        tuning_flow.learning,
        space={"x": {"type": "float", "low": 0.0, "high": 1.0}},
        objective="curve.score",
        trials=16,
        sampler="random",
        seed=5,
        pruner="median",
        pause=0.15,
        steps=8,
    )
    pruned = [t for t in result.trials if t.state == TrialState.PRUNED]
    complete = [t for t in result.trials if t.state == TrialState.COMPLETE]
    assert len(pruned) + len(complete) == 16
    assert all(t.state == TrialState.COMPLETE for t in result.trials[:4])  # the median's start
    assert 4 <= len(pruned) <= 9, [(t.params, t.state) for t in result.trials]
    for trial in pruned:
        run = Run(ws, trial.run_id or "")
        assert run.status is RunStatus.CANCELLED
        # Stopped early: fewer than the 8 steps were logged.
        steps = [p for path, p in ws.store.lineage.metrics(run.id) if path == "curve"]
        assert len(steps) < 8
    # A pruned trial was below the median of the trials before it at some step.
    worst_complete = min(t.params["x"] for t in complete[4:]) if complete[4:] else 1.0
    assert min(t.params["x"] for t in pruned) < worst_complete


def test_seeded_tpe_beats_random_search_on_a_fixed_budget(home: Path, tmp_path: Path) -> None:
    budget = {"trials": 30, "seed": 7, "log_dir": str(tmp_path / "logs")}
    tpe = headwater.tune(
        tuning_flow.quadratic, space=XY, objective="train.score", sampler="tpe", **budget
    )
    random = headwater.tune(
        tuning_flow.quadratic, space=XY, objective="train.score", sampler="random", **budget
    )
    assert len(tpe.trials) == len(random.trials) == 30
    assert tpe.best_value is not None and random.best_value is not None
    assert tpe.best_value > random.best_value
    assert abs(tpe.best_params["x"] - 0.3) < 0.1 and abs(tpe.best_params["y"] - 0.7) < 0.1


def test_the_hyperband_pruner_prunes_trials_running_two_at_a_time(ws: Workspace) -> None:
    result = headwater.tune(
        tuning_flow.learning,
        space={"x": {"type": "float", "low": 0.0, "high": 1.0}},
        objective="curve.score",
        trials=12,
        parallel=2,
        sampler="random",
        seed=5,
        pruner="hyperband",
        pause=0.1,
        steps=8,
    )
    pruned = [t for t in result.trials if t.state == TrialState.PRUNED]
    assert pruned and len(pruned) < 12
    assert {Run(ws, t.run_id or "").status for t in pruned} == {RunStatus.CANCELLED}
    assert result.best_trial is not None and result.best_trial.state == TrialState.COMPLETE
