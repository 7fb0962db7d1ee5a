"""The same work as the benchmark pipelines, as plain code in one process (the baselines)."""

from __future__ import annotations

import os
import sys
import tempfile


def step(x: int) -> int:
    return x + 1


def chain(n: int) -> int:
    value = 0
    for _ in range(n):
        value = step(value)
    return value


def fanout(n: int) -> int:
    src = 1
    return sum(src + i for i in range(n))


def ml3() -> float:
    import joblib
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rows, cols, seed = 200_000, 20, 7
    with tempfile.TemporaryDirectory() as d:
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(rows, cols))
        w = rng.normal(size=cols)
        y = (x @ w + rng.normal(scale=0.5, size=rows) > 0).astype("int64")
        frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(cols)])
        frame["label"] = y
        data = os.path.join(d, "data.parquet")
        frame.to_parquet(data)
        frame = pd.read_parquet(data)
        clf = LogisticRegression(max_iter=200).fit(frame.drop(columns="label"), frame["label"])
        model = os.path.join(d, "model.joblib")
        joblib.dump(clf, model)
        frame = pd.read_parquet(data)
        clf = joblib.load(model)
        return float(clf.score(frame.drop(columns="label"), frame["label"]))


if __name__ == "__main__":
    kind = sys.argv[1]
    if kind == "chain":
        print(chain(int(sys.argv[2])))
    elif kind == "fanout":
        print(fanout(int(sys.argv[2])))
    else:
        print(ml3())
