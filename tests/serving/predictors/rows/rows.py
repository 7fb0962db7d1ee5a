"""A Python predictor that says its rows are independent (``batchable = True``): it
answers each row doubled, and the rows it was called with (the batch it saw); asked with
the parameter ``short``, it breaks its promise and answers one row only."""

from __future__ import annotations

from typing import Any

import numpy as np


class Rows:
    batchable = True

    def predict(self, inputs: dict[str, np.ndarray], parameters: dict[str, Any]) -> dict[str, Any]:
        x = inputs["x"]
        if parameters.get("short"):
            return {"doubled": x[:1] * 2}
        return {"doubled": x * 2, "seen": np.full(len(x), len(x), dtype=np.int64)}
