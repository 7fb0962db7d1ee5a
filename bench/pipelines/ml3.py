"""ml-3step: synthetic data 200,000 x 20 to parquet -> LogisticRegression -> accuracy metric."""

from headwater import Dataset, Input, Metrics, Model, Output, component, pipeline

ROWS, COLS, SEED = 200_000, 20, 7


@component
def make_data(data: Output[Dataset], rows: int = ROWS, cols: int = COLS) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(rows, cols))
    w = rng.normal(size=cols)
    y = (x @ w + rng.normal(scale=0.5, size=rows) > 0).astype("int64")
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(cols)])
    frame["label"] = y
    frame.to_parquet(data.path)


@component
def train(data: Input[Dataset], model: Output[Model]) -> None:
    import joblib
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    frame = pd.read_parquet(data.path)
    clf = LogisticRegression(max_iter=200).fit(frame.drop(columns="label"), frame["label"])
    joblib.dump(clf, model.path)


@component
def evaluate(data: Input[Dataset], model: Input[Model], metrics: Output[Metrics]) -> float:
    import joblib
    import pandas as pd

    frame = pd.read_parquet(data.path)
    clf = joblib.load(model.path)
    accuracy = float(clf.score(frame.drop(columns="label"), frame["label"]))
    metrics.log_metric("accuracy", accuracy)
    return accuracy


@pipeline
def ml3():
    data = make_data()
    trained = train(data=data.outputs["data"])
    evaluate(data=data.outputs["data"], model=trained.outputs["model"])
