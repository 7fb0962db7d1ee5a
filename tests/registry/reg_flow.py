"""Pipelines of the registry flow: train and register a model, and evaluate the champion
that a second pipeline imports from the registry."""

from __future__ import annotations

from headwater import (
    Dataset,
    Input,
    Metrics,
    Model,
    Output,
    component,
    importer,
    pipeline,
    register_model,
)


def _rows(path: str) -> list[list[float]]:
    with open(path) as f:
        return [[float(v) for v in line.split(",")] for line in f]


@component
def prepare(rows: int, data: Output[Dataset]) -> None:
    with open(data.path, "w") as f:
        for i in range(rows):
            f.write(f"{i % 7},{(i * 3) % 5},{i % 2},{int(i % 7 > 3)}\n")


@component
def train(data: Input[Dataset], c: float, model: Output[Model], metrics: Output[Metrics]) -> None:
    import joblib
    from sklearn.linear_model import LogisticRegression

    rows = _rows(data.path)
    x, y = [r[:3] for r in rows], [int(r[3]) for r in rows]
    fitted = LogisticRegression(C=c).fit(x, y)
    joblib.dump(fitted, model.path)
    metrics.log_metric("accuracy", float(fitted.score(x, y)))
    register_model(model, "churn", aliases=["challenger"], tags={"c": str(c)}, description=f"C={c}")


@component
def evaluate(model: Input[Model], data: Input[Dataset]) -> float:
    import joblib

    fitted = joblib.load(model.path)
    rows = _rows(data.path)
    return float(fitted.score([r[:3] for r in rows], [int(r[3]) for r in rows]))


@component
def bad_name(model: Output[Model]) -> None:
    with open(model.path, "w") as f:
        f.write("x")
    register_model(model, "no spaces allowed")


@pipeline
def training(rows: int = 40, c: float = 1.0) -> None:
    data = prepare(rows=rows)
    train(data=data.outputs["data"], c=c)


@pipeline
def evaluation(uri: str = "models:/churn@champion", rows: int = 40) -> float:
    champion = importer(uri, Model)
    data = prepare(rows=rows)
    return evaluate(model=champion.output, data=data.outputs["data"]).output


@pipeline
def badly_named() -> None:
    bad_name()


@component(register={"model": "fraud"})
def fit_fraud(model: Output[Model]) -> None:
    import joblib
    from sklearn.tree import DecisionTreeClassifier

    joblib.dump(DecisionTreeClassifier().fit([[0.0], [1.0]], [0, 1]), model.path)


@pipeline
def fraud_training() -> None:
    fit_fraud()


@component
def promote(model: Input[Model]) -> None:
    register_model(model, "churn-prod", aliases=["live"])


@pipeline
def promotion() -> None:
    challenger = importer("models:/churn@challenger", Model)
    promote(model=challenger.output)
