"""The registry flow on real runs, SQLite and PostgreSQL: train -> register -> alias
champion -> a second pipeline imports models:/churn@champion -> retrain -> register ->
move the alias; the champion's lineage leads back to its dataset."""

from __future__ import annotations

import reg_flow

import headwater
from headwater.engine import Workspace
from headwater.registry import lineage, resolve


def _importer_artifact(ws: Workspace, run_id: str) -> str:
    [task] = [t for t in ws.store.tasks.task_runs(run_id) if t.task == "importer"]
    assert task.outputs is not None
    return str(task.outputs["artifacts"]["artifact"])


def test_train_register_alias_import_retrain_move(backend: str, ws: Workspace) -> None:
    store = ws.store
    first = headwater.run(reg_flow.training, c=1.0)
    assert str(first.status) == "succeeded", first.tasks
    [v1] = store.models.versions("churn")
    assert v1.version == 1 and v1.run_id == first.id
    assert v1.aliases == ("challenger",)
    assert v1.tags == {"c": "1.0"} and v1.description == "C=1.0"
    assert v1.flavor == "sklearn"
    assert v1.signature is not None
    assert v1.signature["inputs"] == [{"name": "X", "type": "tensor", "shape": [-1, 3]}]
    assert "LogisticRegression" in v1.signature["flavor_details"]["class"]
    train_task = store.tasks.get_task_run(str(v1.task_run_id))
    assert train_task.path == "train"
    assert set(v1.metrics["train"]) == {"accuracy"}
    assert v1.created_by == f"run {first.id} task train"

    store.models.set_alias("churn", "champion", 1, actor="ann")
    evaluated = headwater.run(reg_flow.evaluation)
    assert str(evaluated.status) == "succeeded", evaluated.tasks
    assert _importer_artifact(ws, evaluated.id) == v1.artifact_id

    second = headwater.run(reg_flow.training, c=0.01)
    assert str(second.status) == "succeeded", second.tasks
    v2, again = store.models.versions("churn")
    assert (v2.version, again.version) == (2, 1)
    assert v2.aliases == ("challenger",) and again.aliases == ("champion",)
    assert v2.artifact_id != v1.artifact_id

    store.models.set_alias("churn", "champion", 2, actor="ann")
    moved = headwater.run(reg_flow.evaluation)
    assert str(moved.status) == "succeeded", moved.tasks
    assert _importer_artifact(ws, moved.id) == v2.artifact_id
    assert resolve(store, "churn@champion").id == v2.id
    assert resolve(store, "models:/churn/1").id == v1.id
    assert resolve(store, "churn").id == v2.id  # the newest

    history = [
        (c.alias, c.from_version, c.to_version, c.actor)
        for c in store.models.alias_history("churn")
    ]
    assert history == [
        ("champion", 1, 2, "ann"),
        ("challenger", 1, 2, f"run {second.id} task train"),
        ("champion", None, 1, "ann"),
        ("challenger", None, 1, f"run {first.id} task train"),
    ]
    # The champion's lineage leads back to the dataset it was trained on.
    upstream = lineage(store, "churn@champion")
    datasets = [n for n in upstream if n.artifact.type == "headwater.Dataset"]
    assert [n.artifact.name for n in datasets] == ["data"]
    # The retrain reused the first run's prepared data (a cache hit): made once, there.
    producer = datasets[0].producer
    assert producer is not None and (producer.path, producer.run_id) == ("prepare", first.id)
    assert datasets[0].task_run is not None and datasets[0].task_run.run_id == second.id


def test_an_unknown_model_or_alias_fails_the_importer_naming_the_uri(
    backend: str, ws: Workspace
) -> None:
    missing = headwater.run(reg_flow.evaluation, uri="models:/nope@champion")
    assert str(missing.status) == "failed"
    [task] = [t for t in ws.store.tasks.task_runs(missing.id) if t.task == "importer"]
    assert task.error is not None
    assert "models:/nope@champion" in task.error and "no registered model 'nope'" in task.error

    assert str(headwater.run(reg_flow.training).status) == "succeeded"
    no_alias = headwater.run(reg_flow.evaluation, uri="models:/churn@champion")
    [task] = [t for t in ws.store.tasks.task_runs(no_alias.id) if t.task == "importer"]
    assert task.error is not None and "no alias 'champion'" in task.error
    assert "models:/churn@champion" in task.error
    no_version = headwater.run(reg_flow.evaluation, uri="models:/churn/9")
    [task] = [t for t in ws.store.tasks.task_runs(no_version.id) if t.task == "importer"]
    assert task.error is not None and "has no version 9" in task.error
    bad = headwater.run(reg_flow.evaluation, uri="models:/churn")
    [task] = [t for t in ws.store.tasks.task_runs(bad.id) if t.task == "importer"]
    assert task.error is not None and "names no alias or version" in task.error
    latest = headwater.run(reg_flow.evaluation, uri="models:/churn@latest")
    assert str(latest.status) == "succeeded"


def test_a_bad_registration_in_a_task_fails_it_and_registers_nothing(
    backend: str, ws: Workspace
) -> None:
    run = headwater.run(reg_flow.badly_named)
    assert str(run.status) == "failed"
    [task] = ws.store.tasks.task_runs(run.id)
    assert task.error is not None and "model name 'no spaces allowed' is not valid" in task.error
    assert ws.store.models.list_models() == []


def test_the_register_option_registers_the_output(backend: str, ws: Workspace) -> None:
    run = headwater.run(reg_flow.fraud_training)
    assert str(run.status) == "succeeded", run.tasks
    [version] = ws.store.models.versions("fraud")
    assert version.version == 1 and version.flavor == "sklearn"
    assert version.run_id == run.id
    assert ws.store.lineage.get_artifact(version.artifact_id).name == "model"


def test_a_task_registers_an_input_model_under_another_name(backend: str, ws: Workspace) -> None:
    assert str(headwater.run(reg_flow.training).status) == "succeeded"
    run = headwater.run(reg_flow.promotion)
    assert str(run.status) == "succeeded", run.tasks
    [source] = ws.store.models.versions("churn")
    [promoted] = ws.store.models.versions("churn-prod")
    assert promoted.artifact_id == source.artifact_id
    assert promoted.aliases == ("live",) and promoted.run_id == run.id
    [task] = [t for t in ws.store.tasks.task_runs(run.id) if t.task == "promote"]
    assert promoted.task_run_id == task.id
    assert [v.model for v in ws.store.models.versions_of_artifact(source.artifact_id)] == [
        "churn",
        "churn-prod",
    ]
