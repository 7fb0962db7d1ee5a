"""A hyperparameter sweep: one dataset, one model per config in parallel, then the best one.

    summarize  (exit task: runs last, whatever happened)
    └── sweep-body
        make_data -> ParallelFor(configs, parallelism=2): train_and_score
                  -> pick_best(Collected(scores), Collected(configs), Collected(models))

Compile and check it without running anything::

    headwater validate examples/sweep.py
    headwater compile examples/sweep.py --format yaml -o build/sweep.yaml
"""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

from headwater import (
    Collected,
    Dataset,
    ExitHandler,
    FinalStatus,
    Input,
    Model,
    Output,
    ParallelFor,
    Param,
    component,
    pipeline,
)

LABEL = "label"

# Each config becomes one iteration of the loop; its keys are read with cfg["..."].
DEFAULT_CONFIGS: list[dict[str, Any]] = [
    {"C": 0.01, "class_weight": None},
    {"C": 0.1, "class_weight": None},
    {"C": 1.0, "class_weight": None},
    {"C": 0.1, "class_weight": "balanced"},
    {"C": 1.0, "class_weight": "balanced"},
]


class Scored(NamedTuple):
    score: float
    config: dict[str, Any]


class Best(NamedTuple):
    best_score: float
    best_config: dict[str, Any]
    n_candidates: int


@component
def make_data(data: Output[Dataset], n_samples: int = 2000, seed: int = 7) -> None:
    """Generate an imbalanced binary classification table and write it as Parquet."""
    import pandas as pd
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=n_samples,
        n_features=12,
        n_informative=5,
        weights=[0.8, 0.2],
        flip_y=0.03,
        random_state=seed,
    )
    frame = pd.DataFrame(x, columns=[f"f{i:02d}" for i in range(x.shape[1])])
    frame[LABEL] = y
    frame.to_parquet(data.path, index=False)
    data.metadata.update({"rows": len(frame), "label": LABEL, "positive_rate": float(y.mean())})


@component(timeout="20m", cpu=1)
def train_and_score(
    data: Input[Dataset],
    model: Output[Model],
    c: float = 1.0,
    class_weight: str | None = None,
    scoring: str = "balanced_accuracy",
    folds: int = 5,
) -> Scored:
    """Cross-validate one LogisticRegression config, then fit it on all rows."""
    import joblib
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = pd.read_parquet(data.path)
    x, y = frame.drop(columns=[LABEL]), frame[LABEL]
    estimator = make_pipeline(
        StandardScaler(), LogisticRegression(C=c, class_weight=class_weight, max_iter=1000)
    )
    score = float(cross_val_score(estimator, x, y, cv=folds, scoring=scoring).mean())
    estimator.fit(x, y)
    joblib.dump(estimator, model.path)
    config = {"C": c, "class_weight": class_weight}
    model.metadata.update({"config": config, scoring: score})
    return Scored(score, config)


@component
def pick_best(
    scores: list[float],
    configs: list[dict[str, Any]],
    models: Input[list[Model]],
    best_model: Output[Model],
) -> Best:
    """Keep the highest-scoring config and copy its model to ``best_model``."""
    import shutil

    if not scores or not (len(scores) == len(configs) == len(models)):
        raise ValueError(
            f"need one score, config and model per candidate, got {len(scores)} scores, "
            f"{len(configs)} configs and {len(models)} models"
        )
    best = max(range(len(scores)), key=scores.__getitem__)
    shutil.copyfile(models[best].path, best_model.path)
    best_model.metadata.update({"config": configs[best], "score": scores[best]})
    for config, score in sorted(zip(configs, scores, strict=True), key=lambda p: -p[1]):
        print(f"{score:.4f}  {config}")
    return Best(scores[best], configs[best], len(scores))


@component(retries=2, retry_delay="10s")
def summarize(status: FinalStatus, label: str = "sweep") -> str:
    """Runs after the sweep, whatever happened, and prints one line about how it ended."""
    line = f"{label} ended {status.state} (run {status.run_id or '-'})"
    if status.failed_tasks:
        line += f"; failed: {', '.join(status.failed_tasks)}"
    if status.error_message:
        line += f" ({status.error_message})"
    print(line)
    return line


@pipeline(tags=["example", "tuning"], max_active_runs=2)
def sweep(
    configs: list[dict[str, Any]] = DEFAULT_CONFIGS,
    n_samples: Annotated[int, Param("Rows of synthetic data.", minimum=100)] = 2000,
    scoring: Annotated[
        str, Param(enum=["balanced_accuracy", "f1", "roc_auc"])
    ] = "balanced_accuracy",
    seed: int = 7,
):
    """Try every LogisticRegression config on the same data and keep the best model."""
    summary = summarize(label="logistic-sweep")
    with ExitHandler(summary, name="sweep-body"):
        data = make_data(n_samples=n_samples, seed=seed)
        with ParallelFor(configs, parallelism=2, name="configs") as cfg:
            scored = train_and_score(
                data=data.outputs["data"],
                c=cfg["C"],
                class_weight=cfg["class_weight"],
                scoring=scoring,
            )
        best = pick_best(
            scores=Collected(scored.outputs["score"]),
            configs=Collected(scored.outputs["config"]),
            models=Collected(scored.outputs["model"]),
        )
    return best.outputs["best_model"]
