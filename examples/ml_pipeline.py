"""The canonical Headwater ML pipeline: data -> checks -> features -> model -> gate -> registry.

    make_dataset -> validate_data -> compute_features -> train -> evaluate
                                                                   |
                                   If accuracy >= min_accuracy: register
                                   Else:                        report_rejection

Compile and check it without running anything::

    headwater validate examples/ml_pipeline.py
    headwater compile examples/ml_pipeline.py -o build/ml_pipeline.json

Heavy libraries (pandas, scikit-learn, joblib) are imported inside the component
functions: compiling the pipeline needs only Headwater, and each task process
imports what its own step uses.
"""

from __future__ import annotations

from typing import Annotated, Literal, NamedTuple

from headwater import (
    ClassificationMetrics,
    Dataset,
    Else,
    If,
    Input,
    Metrics,
    Model,
    Output,
    Param,
    component,
    pipeline,
)

LABEL = "label"


class DataSummary(NamedTuple):
    n_rows: int
    n_features: int
    positive_rate: float


class Evaluation(NamedTuple):
    accuracy: float
    f1: float
    roc_auc: float


@component(cache_ttl="7d")
def make_dataset(
    dataset: Output[Dataset],
    n_samples: int = 5000,
    n_features: int = 20,
    seed: int = 42,
) -> None:
    """Generate a synthetic binary classification table and write it as Parquet."""
    import pandas as pd
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=max(2, n_features // 3),
        n_redundant=max(0, n_features // 5),
        weights=[0.6, 0.4],
        flip_y=0.02,
        random_state=seed,
    )
    frame = pd.DataFrame(x, columns=[f"f{i:02d}" for i in range(n_features)])
    frame[LABEL] = y
    frame.to_parquet(dataset.path, index=False)
    dataset.metadata.update(
        {"rows": len(frame), "columns": list(frame.columns), "label": LABEL, "seed": seed}
    )


@component
def validate_data(
    data: Input[Dataset],
    stats: Output[Metrics],
    min_rows: int = 100,
    max_missing_fraction: float = 0.0,
) -> DataSummary:
    """Fail fast on data that no model should be trained on."""
    import pandas as pd

    frame = pd.read_parquet(data.path)
    problems = []
    if LABEL not in frame.columns:
        problems.append(f"no '{LABEL}' column")
    if len(frame) < min_rows:
        problems.append(f"{len(frame)} rows, fewer than min_rows={min_rows}")
    missing = float(frame.isna().mean().max()) if len(frame) else 0.0
    if missing > max_missing_fraction:
        problems.append(f"a column is {missing:.1%} missing (allowed {max_missing_fraction:.1%})")
    if LABEL in frame.columns and frame[LABEL].nunique() != 2:
        problems.append(f"'{LABEL}' has {frame[LABEL].nunique()} classes, expected 2")
    if problems:
        raise ValueError(f"{data.uri or data.path} failed validation: " + "; ".join(problems))

    n_features = frame.shape[1] - 1
    positive_rate = float(frame[LABEL].mean())
    stats.log_metric("rows", len(frame))
    stats.log_metric("features", n_features)
    stats.log_metric("positive_rate", positive_rate)
    stats.log_metric("max_missing_fraction", missing)
    return DataSummary(len(frame), n_features, positive_rate)


@component
def compute_features(
    data: Input[Dataset],
    train_set: Output[Dataset],
    test_set: Output[Dataset],
    test_fraction: float = 0.2,
    seed: int = 42,
) -> int:
    """Add row-level summary features and split into stratified train and test sets.

    Returns the number of feature columns the model will see.
    """
    import pandas as pd
    from sklearn.model_selection import train_test_split

    frame = pd.read_parquet(data.path)
    raw = frame.drop(columns=[LABEL])
    features = raw.assign(
        row_mean=raw.mean(axis=1),
        row_std=raw.std(axis=1),
        row_max_abs=raw.abs().max(axis=1),
    )
    features[LABEL] = frame[LABEL]
    train, test = train_test_split(
        features, test_size=test_fraction, stratify=features[LABEL], random_state=seed
    )
    train.to_parquet(train_set.path, index=False)
    test.to_parquet(test_set.path, index=False)
    columns = [c for c in features.columns if c != LABEL]
    for artifact, part in ((train_set, train), (test_set, test)):
        artifact.metadata.update({"rows": len(part), "features": columns, "label": LABEL})
    return len(columns)


@component(timeout="30m", cpu=2, memory="2Gi")
def train(
    train_set: Input[Dataset],
    model: Output[Model],
    learning_curve: Output[Metrics],
    model_type: Literal["logistic", "random_forest"] = "logistic",
    c: float = 1.0,
    n_estimators: int = 200,
    seed: int = 42,
) -> float:
    """Fit a classifier on the training set; returns its accuracy on that set.

    The learning curve (accuracy on the rows seen so far and on the rest, as the training
    rows grow) is logged step by step, for the UI's training-curve charts.
    """
    import joblib
    import pandas as pd
    import sklearn
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = pd.read_parquet(train_set.path)
    x, y = frame.drop(columns=[LABEL]), frame[LABEL]
    if model_type == "logistic":
        estimator = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000))
    elif model_type == "random_forest":
        estimator = RandomForestClassifier(n_estimators=n_estimators, random_state=seed, n_jobs=2)
    else:
        raise ValueError(f"unknown model_type {model_type!r}")
    for step, fraction in enumerate((0.1, 0.2, 0.35, 0.5, 0.7, 0.85), start=1):
        cut = max(int(len(x) * fraction), 10)
        estimator.fit(x[:cut], y[:cut])
        learning_curve.log_metric("seen_accuracy", float(estimator.score(x[:cut], y[:cut])), step)
        learning_curve.log_metric("unseen_accuracy", float(estimator.score(x[cut:], y[cut:])), step)
    estimator.fit(x, y)
    joblib.dump(estimator, model.path)
    model.metadata.update(
        {
            "framework": "scikit-learn",
            "framework_version": sklearn.__version__,
            "model_type": model_type,
            "features": list(x.columns),
        }
    )
    return float(estimator.score(x, y))


@component
def evaluate(
    model: Input[Model],
    test_set: Input[Dataset],
    metrics: Output[ClassificationMetrics],
) -> Evaluation:
    """Score the model on the held-out set: scalar metrics, confusion matrix and ROC curve."""
    import joblib
    import numpy as np
    import pandas as pd
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score, roc_curve

    estimator = joblib.load(model.path)
    frame = pd.read_parquet(test_set.path)
    x, y = frame.drop(columns=[LABEL]), frame[LABEL]
    predicted = estimator.predict(x)
    scores = estimator.predict_proba(x)[:, 1]

    result = Evaluation(
        accuracy=float(accuracy_score(y, predicted)),
        f1=float(f1_score(y, predicted)),
        roc_auc=float(roc_auc_score(y, scores)),
    )
    for name, value in result._asdict().items():
        metrics.log_metric(name, value)
    labels = [0, 1]
    matrix = confusion_matrix(y, predicted, labels=labels)
    metrics.log_confusion_matrix([str(v) for v in labels], matrix.tolist())
    fpr, tpr, thresholds = roc_curve(y, scores)
    # scikit-learn starts the curve at threshold +inf; probabilities never exceed 1.
    metrics.log_roc_curve(fpr.tolist(), tpr.tolist(), np.minimum(thresholds, 1.0).tolist())
    return result


@component(retries=3, retry_delay="5s", retry_backoff=True)
def register(
    model: Input[Model],
    registered: Output[Model],
    accuracy: float,
    registry: str = "",
    model_name: str = "classifier",
) -> str:
    """Copy the model into a versioned registry folder; returns ``<registry>/<name>/v<N>``.

    The registry defaults to ``~/.headwater/registry``, or ``$HEADWATER_HOME/registry``
    where tasks may see ``HEADWATER_HOME`` (``HEADWATER_TASK_ENV_ALLOW=HEADWATER_HOME``:
    tasks get a scrubbed environment, see docs/operations.md). ``registered`` is the
    registered model as an artifact, so its lineage leads back to the data.
    """
    import json
    import os
    import shutil
    from pathlib import Path

    home = os.environ.get("HEADWATER_HOME") or os.path.expanduser("~/.headwater")
    root = Path(registry or os.path.join(home, "registry")) / model_name
    root.mkdir(parents=True, exist_ok=True)
    versions = [int(p.name[1:]) for p in root.glob("v*") if p.name[1:].isdigit()]
    target = root / f"v{max(versions, default=0) + 1}"
    # Write beside the target and rename, so a retried attempt never sees half a version.
    staging = root / f".{target.name}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    shutil.copyfile(model.path, staging / "model.joblib")
    card = {"name": model_name, "version": target.name, "accuracy": accuracy, "source": model.uri}
    card["model_metadata"] = model.metadata
    (staging / "card.json").write_text(json.dumps(card, indent=2), encoding="utf-8")
    staging.rename(target)
    shutil.copyfile(model.path, registered.path)
    registered.metadata.update(name=model_name, version=target.name, registry=str(target))
    return str(target)


@component
def report_rejection(accuracy: float, min_accuracy: float) -> str:
    """Explain why the model was not registered."""
    message = f"model not registered: accuracy {accuracy:.3f} is below {min_accuracy:.3f}"
    print(message)
    return message


@pipeline(
    schedule="0 4 * * *",
    timezone="UTC",
    start_date="2026-01-01",
    catchup=False,
    max_active_runs=1,
    tags=["example", "classification"],
    owner="ml-platform",
    task_defaults={"retries": 1, "retry_delay": "30s"},
)
def ml_pipeline(
    n_samples: Annotated[int, Param("Rows of synthetic data to generate.", minimum=100)] = 5000,
    n_features: Annotated[int, Param(minimum=4, maximum=200)] = 20,
    model_type: Literal["logistic", "random_forest"] = "logistic",
    c: Annotated[float, Param("Inverse regularisation strength.", exclusive_minimum=0)] = 1.0,
    min_accuracy: Annotated[float, Param(minimum=0, maximum=1)] = 0.75,
    registry: Annotated[
        str,
        Param(
            "Folder that accepted models are copied into; default ~/.headwater/registry "
            "($HEADWATER_HOME/registry where tasks may see HEADWATER_HOME)."
        ),
    ] = "",
    model_name: Annotated[str, Param(pattern=r"^[a-z][a-z0-9-]*$")] = "classifier",
    seed: int = 42,
):
    """Train a classifier on fresh data every night and register it if it is good enough."""
    data = make_dataset(n_samples=n_samples, n_features=n_features, seed=seed)
    checked = validate_data(data=data.outputs["dataset"])
    features = compute_features(data=data.outputs["dataset"], seed=seed).after(checked)
    trained = train(train_set=features.outputs["train_set"], model_type=model_type, c=c, seed=seed)
    trained.set_env_variable("OMP_NUM_THREADS", "2")
    evaluated = evaluate(model=trained.outputs["model"], test_set=features.outputs["test_set"])

    with If(evaluated.outputs["accuracy"] >= min_accuracy, name="quality-gate"):
        register(
            model=trained.outputs["model"],
            accuracy=evaluated.outputs["accuracy"],
            registry=registry,
            model_name=model_name,
        )
    with Else():
        report_rejection(accuracy=evaluated.outputs["accuracy"], min_accuracy=min_accuracy)

    return {"accuracy": evaluated.outputs["accuracy"], "model": trained.outputs["model"]}
