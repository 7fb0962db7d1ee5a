"""Runs belong to experiments and are compared side by side: parameters, final metrics,
threshold filters, sorting and the best run, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import xp_flow

import headwater
from headwater.engine import Workspace
from headwater.errors import InvalidValue, NotFound


def _runs(experiment: str | None = None) -> dict[float, str]:
    """Three runs of xp_train (lr 0.05, 0.1, 0.3); their ids by lr."""
    found = {}
    for lr in (0.05, 0.1, 0.3):
        run = headwater.run(xp_flow.xp_train, lr=lr, experiment=experiment)
        assert str(run.status) == "succeeded", run.tasks
        found[lr] = run.id
    return found


def test_a_run_belongs_to_its_pipelines_experiment_or_the_one_named(
    backend: str, ws: Workspace
) -> None:
    plain = headwater.run(xp_flow.xp_train)
    named = headwater.run(xp_flow.xp_train, lr=0.2, experiment="sweep-1")
    assert ws.store.runs.get_run(plain.id).experiment == "xp_train"
    assert ws.store.runs.get_run(named.id).experiment == "sweep-1"
    assert [r.id for r in ws.store.runs.list_runs(experiment="sweep-1")] == [named.id]
    listed = {e.name: e for e in ws.store.experiments.list_experiments()}
    assert {name: e.runs for name, e in listed.items()} == {"xp_train": 1, "sweep-1": 1}
    assert listed["sweep-1"].pipelines == ("xp_train",)


def test_compare_shows_parameters_and_final_metrics(backend: str, ws: Workspace) -> None:
    ids = _runs()
    found = ws.store.experiments.compare(experiment="xp_train")
    assert found.parameters == ["depth", "lr", "optimizer"]
    assert found.metrics == ["accuracy", "loss"]
    assert found.total == 3
    assert [row.run.id for row in found.rows] == [ids[0.3], ids[0.1], ids[0.05]]  # newest first
    by_id = {row.run.id: row for row in found.rows}
    assert by_id[ids[0.1]].parameters == {"lr": 0.1, "depth": 2, "optimizer": "adam"}
    # The loss logged at the last step is the final one, not the first or the lowest id.
    assert by_id[ids[0.1]].metrics == pytest.approx({"accuracy": 0.98, "loss": 0.02})
    assert by_id[ids[0.3]].metrics == pytest.approx({"accuracy": 0.78, "loss": 0.22})


def test_filters_sorting_and_the_best_run(backend: str, ws: Workspace) -> None:
    ids = _runs()
    xps = ws.store.experiments
    high = xps.compare(experiment="xp_train", where=["accuracy>0.9"])
    assert {r.run.id for r in high.rows} == {ids[0.05], ids[0.1]}
    assert high.total == 3
    both = xps.compare(experiment="xp_train", where=["accuracy >= 0.93", "params.lr<0.1"])
    assert [r.run.id for r in both.rows] == [ids[0.05]]
    text = xps.compare(experiment="xp_train", where=["params.optimizer=adam"])
    assert len(text.rows) == 3
    none = xps.compare(experiment="xp_train", where=["optimizer != adam"])
    assert none.rows == []
    ordered = xps.compare(experiment="xp_train", sort="accuracy", descending=True)
    assert [r.run.id for r in ordered.rows] == [ids[0.1], ids[0.05], ids[0.3]]
    by_lr = xps.compare(experiment="xp_train", sort="params.lr")
    assert [r.run.id for r in by_lr.rows] == [ids[0.05], ids[0.1], ids[0.3]]
    best = xps.compare(experiment="xp_train", best="accuracy")
    assert [r.run.id for r in best.rows] == [ids[0.1]]
    lowest = xps.compare(experiment="xp_train", best="loss", direction="minimize")
    assert [r.run.id for r in lowest.rows] == [ids[0.1]]
    worst = xps.compare(experiment="xp_train", best="accuracy", direction="minimize")
    assert [r.run.id for r in worst.rows] == [ids[0.3]]
    # Runs named by id (a prefix will do), in the order given.
    named = xps.compare(runs=[ids[0.3][:12], ids[0.05]])
    assert [r.run.id for r in named.rows] == [ids[0.3], ids[0.05]]


def test_a_metric_that_several_tasks_log_is_named_by_task(backend: str, ws: Workspace) -> None:
    run = headwater.run(xp_flow.xp_checked, lr=0.1)
    found = ws.store.experiments.compare(experiment="xp_checked")
    assert found.metrics == ["check.accuracy", "fit.accuracy", "loss"]
    assert found.rows[0].metrics["check.accuracy"] == pytest.approx(0.49)
    with pytest.raises(InvalidValue, match="several tasks log the metric 'accuracy'") as err:
        ws.store.experiments.compare(experiment="xp_checked", where=["accuracy>0.5"])
    assert "check.accuracy" in (err.value.hint or "")
    picked = ws.store.experiments.compare(experiment="xp_checked", where=["fit.accuracy>0.9"])
    assert [r.run.id for r in picked.rows] == [run.id]
    # TASK.KEY also names a key that one task logs.
    assert ws.store.experiments.compare(experiment="xp_checked", sort="fit.loss").rows


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"where": ["accuracy"]}, "cannot read the filter"),
        ({"where": ["accuracy>"]}, "cannot read the filter"),
        ({"where": ["accuracy>high"]}, "is a number and 'high' is not"),
        ({"where": ["params.optimizer>adam"]}, "holds text, which compares only with = or !="),
        ({"where": ["nope>1"]}, "filter 'nope' is no metric or parameter"),
        ({"where": ["x" * 600 + ">1"]}, "cannot read the filter"),
        ({"sort": "params.missing"}, "sort column 'params.missing' is no metric or parameter"),
        ({"best": "params.lr"}, "best 'params.lr' is a parameter"),
        ({"best": "accuracy", "direction": "up"}, "neither maximize nor minimize"),
    ],
)
def test_bad_comparisons_are_clear_errors(ws: Workspace, kwargs: dict, message: str) -> None:
    headwater.run(xp_flow.xp_train)
    with pytest.raises(InvalidValue, match=message):
        ws.store.experiments.compare(experiment="xp_train", **kwargs)


def test_unknown_experiments_and_runs_are_not_found(ws: Workspace) -> None:
    headwater.run(xp_flow.xp_train)
    with pytest.raises(NotFound, match="no experiment 'nope'"):
        ws.store.experiments.compare(experiment="nope")
    with pytest.raises(NotFound, match="no run"):
        ws.store.experiments.compare(runs=["zzzzzzzz"])
    with pytest.raises(InvalidValue, match="experiment name"):
        ws.store.experiments.compare(experiment="../etc")


@pytest.mark.parametrize(
    "name", ["", "a b", "x" * 129, "-starts-with-dash", "caf\u00e9\u0000", "../up"]
)
def test_a_bad_experiment_name_creates_nothing(ws: Workspace, name: str) -> None:
    with pytest.raises(InvalidValue, match="experiment name"):
        headwater.run(xp_flow.xp_train, experiment=name)
    assert ws.store.runs.list_runs() == []
    assert ws.store.pipelines.list_pipelines() == []
