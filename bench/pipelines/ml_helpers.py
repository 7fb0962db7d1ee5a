"""The ML code of ml-3step as a helper module, the way projects usually keep it: the
heavy libraries are imported inside the functions that use them, not at the top of
the module nor in the component bodies (``ml3_helpers.py`` calls these)."""

from __future__ import annotations


def make_data(path: str, rows: int, cols: int, seed: int) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, cols))
    w = rng.normal(size=cols)
    y = (x @ w + rng.normal(scale=0.5, size=rows) > 0).astype("int64")
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(cols)])
    frame["label"] = y
    frame.to_parquet(path)


def train(data_path: str, model_path: str) -> None:
    import joblib
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    frame = pd.read_parquet(data_path)
    clf = LogisticRegression(max_iter=200).fit(frame.drop(columns="label"), frame["label"])
    joblib.dump(clf, model_path)


def evaluate(data_path: str, model_path: str) -> float:
    import joblib
    import pandas as pd

    frame = pd.read_parquet(data_path)
    clf = joblib.load(model_path)
    return float(clf.score(frame.drop(columns="label"), frame["label"]))
