"""No-op pipelines in the same file as an ML pipeline whose components import numpy
and pandas in their bodies: ``ml_mixed.py:chain_beside_ml`` (chain-N, ``BENCH_CHAIN_N``,
default 100) and ``ml_mixed.py:fanout_beside_ml`` (fanout-200) do what ``chain.py`` and
``fanout.py`` do, and should cost what they cost: the warm worker has no need of numpy or
pandas for them. ``ml_mixed.py:ml3_mixed`` is the ML pipeline, the same as ``ml3.py``'s.
"""

import os

from headwater import (
    Collected,
    Dataset,
    Input,
    Metrics,
    Model,
    Output,
    ParallelFor,
    component,
    pipeline,
)

N = int(os.environ.get("BENCH_CHAIN_N", "100"))
ROWS, COLS, SEED = 200_000, 20, 7


@component
def step(x: int) -> int:
    return x + 1


@pipeline
def chain_beside_ml(start: int = 0):
    value = start
    for _ in range(N):
        value = step(x=value).output


@component
def source() -> int:
    return 1


@component
def work(x: int, i: int) -> int:
    return x + i


@component
def sink(values: list[int]) -> int:
    return sum(values)


@pipeline
def fanout_beside_ml(items: list[int] = list(range(200))):  # noqa: B006
    src = source()
    with ParallelFor(items) as i:
        done = work(x=src.output, i=i)
    sink(values=Collected(done.output))


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
def ml3_mixed():
    data = make_data()
    trained = train(data=data.outputs["data"])
    evaluate(data=data.outputs["data"], model=trained.outputs["model"])
