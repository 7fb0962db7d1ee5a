"""The shipped examples compile through the CLI and their scikit-learn code really works.

Component code is exercised by calling each component's plain function
(``component.python_func``) in order, with artifacts whose paths point into a
temporary folder, the way a task process would hand them over.
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import joblib
import pandas as pd
import pytest
import yaml

from headwater import ClassificationMetrics, Dataset, FinalStatus, Metrics, Model

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _headwater() -> str:
    beside = Path(sys.executable).parent / "headwater"
    found = str(beside) if beside.exists() else shutil.which("headwater")
    assert found, "the 'headwater' command is not installed in this environment"
    return found


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_headwater(), *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def _nodes(dag_nodes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every task and group of a DAG by name, nested groups included."""
    found: dict[str, dict[str, Any]] = {}
    for node in dag_nodes:
        found[node["name"]] = node
        if node["kind"] == "condition":
            for branch in node["branches"]:
                found.update(_nodes(branch.get("nodes", [])))
        elif node["kind"] in ("loop", "exit_handler"):
            found.update(_nodes(node.get("nodes", [])))
            if node["kind"] == "exit_handler":
                found[node["exit_task"]["name"]] = node["exit_task"]
    return found


def _artifact(cls: type, tmp_path: Path, name: str) -> Any:
    return cls(name=name, uri=str(tmp_path / name))


@pytest.fixture
def examples(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, ModuleType]]:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    yield {name: importlib.import_module(name) for name in ("ml_pipeline", "sweep")}


# --------------------------------------------------------------------------- compiling


def test_ml_pipeline_compiles_and_validates(tmp_path: Path) -> None:
    out = tmp_path / "ml_pipeline.json"
    done = _cli("compile", "examples/ml_pipeline.py", "-o", str(out))
    assert done.returncode == 0, done.stderr
    validated = _cli("validate", "examples/ml_pipeline.py")
    assert validated.returncode == 0, validated.stderr
    assert "ok 1 pipeline(s) valid" in validated.stdout
    assert "invalid" not in validated.stdout

    spec = json.loads(out.read_text())
    assert spec["name"] == "ml_pipeline"
    top = spec["root"]["implementation"]["dag"]["nodes"]
    assert [n["name"] for n in top] == [
        "make_dataset",
        "validate_data",
        "compute_features",
        "train",
        "evaluate",
        "quality-gate",
    ]
    nodes = _nodes(top)
    assert nodes["compute_features"]["after"] == ["validate_data"]
    assert nodes["train"]["options"]["env"] == {"OMP_NUM_THREADS": "2"}

    gate = nodes["quality-gate"]
    assert gate["kind"] == "condition"
    passed, rejected = gate["branches"]
    assert passed["condition"] == {
        "kind": "compare",
        "op": ">=",
        "left": {"kind": "task_output", "task": "evaluate", "output": "accuracy"},
        "right": {"kind": "pipeline_input", "name": "min_accuracy"},
    }
    assert [n["name"] for n in passed["nodes"]] == ["register"]
    assert passed["nodes"][0]["inputs"]["model"] == {
        "kind": "task_output",
        "task": "train",
        "output": "model",
    }
    assert rejected["condition"] is None
    assert [n["name"] for n in rejected["nodes"]] == ["report_rejection"]

    params = spec["root"]["inputs"]
    assert params["n_samples"]["default"] == 5000
    assert params["n_samples"]["constraints"] == {"minimum": 100}
    assert params["min_accuracy"]["constraints"] == {"minimum": 0, "maximum": 1}
    assert params["model_type"]["constraints"]["enum"] == ["logistic", "random_forest"]

    components = spec["components"]
    train = components["train"]["options"]
    assert train["timeout_seconds"] == 1800
    assert train["resources"] == {"cpu": 2.0, "memory_bytes": 2 * 2**30}
    assert components["register"]["options"]["retry"]["max_retries"] == 3
    evaluate = components["evaluate"]
    assert evaluate["outputs"]["metrics"]["artifact_type"] == "headwater.ClassificationMetrics"
    assert evaluate["implementation"]["returns"] == "named_tuple"
    assert evaluate["implementation"]["return_outputs"] == ["accuracy", "f1", "roc_auc"]
    assert spec["schedule"]["cron"] == "0 4 * * *"


def test_sweep_compiles_to_yaml_and_validates(tmp_path: Path) -> None:
    out = tmp_path / "sweep.yaml"
    done = _cli("compile", "examples/sweep.py:sweep", "--format", "yaml", "-o", str(out))
    assert done.returncode == 0, done.stderr
    validated = _cli("validate", "examples/sweep.py")
    assert validated.returncode == 0, validated.stderr
    assert "ok 1 pipeline(s) valid" in validated.stdout

    spec = yaml.safe_load(out.read_text())
    top = spec["root"]["implementation"]["dag"]["nodes"]
    assert [(n["kind"], n["name"]) for n in top] == [("exit_handler", "sweep-body")]
    exit_task = top[0]["exit_task"]
    assert exit_task["name"] == "summarize"
    assert exit_task["inputs"]["status"] == {"kind": "final_status"}
    assert [n["name"] for n in top[0]["nodes"]] == ["make_data", "configs", "pick_best"]

    nodes = _nodes(top)
    loop = nodes["configs"]
    assert loop["kind"] == "loop"
    assert loop["parallelism"] == 2
    assert loop["items"] == {"kind": "pipeline_input", "name": "configs"}
    assert [n["name"] for n in loop["nodes"]] == ["train_and_score"]
    assert nodes["train_and_score"]["inputs"]["c"] == {
        "kind": "loop_item",
        "loop": "configs",
        "key": "C",
    }
    pick = nodes["pick_best"]["inputs"]
    for name, output in (("scores", "score"), ("configs", "config"), ("models", "model")):
        assert pick[name] == {"kind": "collected", "task": "train_and_score", "output": output}
    assert spec["components"]["pick_best"]["inputs"]["models"]["is_list"] is True
    assert len(spec["root"]["inputs"]["configs"]["default"]) >= 3


def test_compiling_the_examples_imports_no_ml_library() -> None:
    code = (
        "import sys; sys.path.insert(0, 'examples')\n"
        "import ml_pipeline, sweep\n"
        "ml_pipeline.ml_pipeline.compile(); sweep.sweep.compile()\n"
        "heavy = sorted(m for m in ('pandas', 'sklearn', 'joblib', 'numpy') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


# --------------------------------------------------------------------------- ml_pipeline code


@pytest.mark.parametrize("model_type", ["logistic", "random_forest"])
def test_ml_pipeline_components_train_and_register_a_model(
    examples: dict[str, ModuleType], tmp_path: Path, model_type: str
) -> None:
    ml = examples["ml_pipeline"]

    data = _artifact(Dataset, tmp_path, "data.parquet")
    ml.make_dataset.python_func(dataset=data, n_samples=500, n_features=8, seed=3)
    frame = pd.read_parquet(data.path)
    assert frame.shape == (500, 9)
    assert set(frame["label"]) == {0, 1}
    assert data.metadata["rows"] == 500

    stats = _artifact(Metrics, tmp_path, "stats.json")
    summary = ml.validate_data.python_func(data=data, stats=stats)
    assert (summary.n_rows, summary.n_features) == (500, 8)
    assert 0 < summary.positive_rate < 1
    assert stats.metadata["rows"] == 500
    assert {r.key for r in stats.records} >= {"rows", "features", "positive_rate"}

    train_set = _artifact(Dataset, tmp_path, "train.parquet")
    test_set = _artifact(Dataset, tmp_path, "test.parquet")
    n_columns = ml.compute_features.python_func(
        data=data, train_set=train_set, test_set=test_set, test_fraction=0.2, seed=3
    )
    assert n_columns == 8 + 3
    n_train, n_test = len(pd.read_parquet(train_set.path)), len(pd.read_parquet(test_set.path))
    assert (n_train, n_test) == (400, 100)

    model = _artifact(Model, tmp_path, "model.joblib")
    curve = _artifact(Metrics, tmp_path, "curve.json")
    train_accuracy = ml.train.python_func(
        train_set=train_set,
        model=model,
        learning_curve=curve,
        model_type=model_type,
        n_estimators=50,
        seed=3,
    )
    assert 0.0 <= train_accuracy <= 1.0
    steps = [(r.key, r.step) for r in curve.records]
    assert steps[:2] == [("seen_accuracy", 1), ("unseen_accuracy", 1)]
    assert max(step for _, step in steps) == 6
    estimator = joblib.load(model.path)
    assert hasattr(estimator, "predict_proba")
    assert model.metadata["model_type"] == model_type
    assert len(model.metadata["features"]) == n_columns

    metrics = _artifact(ClassificationMetrics, tmp_path, "metrics.json")
    result = ml.evaluate.python_func(model=model, test_set=test_set, metrics=metrics)
    assert 0.0 <= result.accuracy <= 1.0
    assert result.accuracy > 0.7, "the synthetic data is learnable; a worse model means a bug"
    assert 0.0 <= result.roc_auc <= 1.0
    assert metrics.metadata["accuracy"] == result.accuracy
    assert {r.key for r in metrics.records} == {"accuracy", "f1", "roc_auc"}
    matrix = metrics.metadata["confusion_matrix"]["matrix"]
    assert len(matrix) == 2 and all(len(row) == 2 for row in matrix)
    assert sum(map(sum, matrix)) == n_test
    roc = metrics.metadata["roc_curve"]
    assert roc["fpr"][0] == 0.0 and roc["fpr"][-1] == 1.0
    json.dumps(metrics.metadata, allow_nan=False)  # the task output must be plain JSON

    registry = tmp_path / "registry"
    copies = [_artifact(Model, tmp_path, f"registered-{i}.joblib") for i in (1, 2)]
    first = ml.register.python_func(
        model=model,
        registered=copies[0],
        accuracy=result.accuracy,
        registry=str(registry),
        model_name="clf",
    )
    second = ml.register.python_func(
        model=model,
        registered=copies[1],
        accuracy=result.accuracy,
        registry=str(registry),
        model_name="clf",
    )
    assert copies[1].metadata["version"] == "v2"
    assert Path(copies[1].path).read_bytes() == Path(model.path).read_bytes()
    assert Path(first) == registry / "clf" / "v1"
    assert Path(second) == registry / "clf" / "v2"
    card = json.loads((Path(second) / "card.json").read_text())
    assert card["accuracy"] == result.accuracy
    assert card["version"] == "v2"
    reloaded = joblib.load(Path(second) / "model.joblib")
    test = pd.read_parquet(test_set.path)
    features = test.drop(columns=["label"])
    assert (reloaded.predict(features) == estimator.predict(features)).all()


def test_validate_data_rejects_bad_data(examples: dict[str, ModuleType], tmp_path: Path) -> None:
    ml = examples["ml_pipeline"]
    data = _artifact(Dataset, tmp_path, "data.parquet")
    ml.make_dataset.python_func(dataset=data, n_samples=150, n_features=4)
    stats = _artifact(Metrics, tmp_path, "stats.json")
    with pytest.raises(ValueError, match="fewer than min_rows=1000"):
        ml.validate_data.python_func(data=data, stats=stats, min_rows=1000)

    frame = pd.read_parquet(data.path)
    frame.loc[:9, "f00"] = None
    frame.to_parquet(data.path, index=False)
    with pytest.raises(ValueError, match="missing"):
        ml.validate_data.python_func(data=data, stats=stats)


def test_report_rejection_says_why(examples: dict[str, ModuleType]) -> None:
    message = examples["ml_pipeline"].report_rejection.python_func(accuracy=0.61, min_accuracy=0.8)
    assert "0.610" in message and "0.800" in message


# --------------------------------------------------------------------------- sweep code


def test_sweep_components_pick_the_best_config(
    examples: dict[str, ModuleType], tmp_path: Path
) -> None:
    sweep = examples["sweep"]
    data = _artifact(Dataset, tmp_path, "data.parquet")
    sweep.make_data.python_func(data=data, n_samples=400, seed=1)
    assert len(pd.read_parquet(data.path)) == 400

    scores: list[float] = []
    configs: list[dict[str, Any]] = []
    models: list[Model] = []
    for i, cfg in enumerate(sweep.DEFAULT_CONFIGS):
        model = _artifact(Model, tmp_path, f"model-{i}.joblib")
        scored = sweep.train_and_score.python_func(
            data=data, model=model, c=cfg["C"], class_weight=cfg["class_weight"], folds=3
        )
        assert 0.0 <= scored.score <= 1.0
        assert scored.config == cfg
        assert hasattr(joblib.load(model.path), "predict")
        scores.append(scored.score)
        configs.append(scored.config)
        models.append(model)
    assert len(set(scores)) > 1, "different configs should score differently"

    best_model = _artifact(Model, tmp_path, "best.joblib")
    best = sweep.pick_best.python_func(
        scores=scores, configs=configs, models=models, best_model=best_model
    )
    winner = scores.index(max(scores))
    assert best.best_score == max(scores)
    assert best.best_config == configs[winner]
    assert best.n_candidates == len(sweep.DEFAULT_CONFIGS)
    assert Path(best_model.path).read_bytes() == Path(models[winner].path).read_bytes()
    assert best_model.metadata["config"] == configs[winner]

    with pytest.raises(ValueError, match="one score, config and model per candidate"):
        sweep.pick_best.python_func(
            scores=scores[:-1], configs=configs, models=models, best_model=best_model
        )


def test_sweep_summary_reports_failures(examples: dict[str, ModuleType]) -> None:
    summarize = examples["sweep"].summarize.python_func
    ok = summarize(status=FinalStatus(state="succeeded", run_id="r-1"), label="grid")
    assert ok == "grid ended succeeded (run r-1)"
    failed = summarize(
        status=FinalStatus(state="failed", failed_tasks=["pick_best"], error_message="boom")
    )
    assert "failed: pick_best" in failed and "boom" in failed
