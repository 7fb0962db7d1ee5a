"""Train and register a small model: versions of 'e2e-churn' for the registry pages."""

from headwater import Dataset, Input, Metrics, Model, Output, component, pipeline, register_model


@component
def make_rows(rows: int, data: Output[Dataset]) -> None:
    with open(data.path, "w") as f:
        for i in range(rows):
            f.write(f"{i % 7},{(i * 3) % 5},{int(i % 7 > 3)}\n")


@component
def fit(data: Input[Dataset], c: float, model: Output[Model], metrics: Output[Metrics]) -> None:
    import joblib
    from sklearn.linear_model import LogisticRegression

    with open(data.path) as f:
        rows = [[float(v) for v in line.split(",")] for line in f]
    fitted = LogisticRegression(C=c).fit([r[:2] for r in rows], [int(r[2]) for r in rows])
    joblib.dump(fitted, model.path)
    metrics.log_metric(
        "accuracy", float(fitted.score([r[:2] for r in rows], [int(r[2]) for r in rows]))
    )
    register_model(model, "e2e-churn", description=f"logistic regression, C={c}")


@pipeline
def e2e_models(rows: int = 60, c: float = 1.0) -> None:
    fit(data=make_rows(rows=rows).outputs["data"], c=c)
