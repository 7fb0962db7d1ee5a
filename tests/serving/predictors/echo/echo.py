"""A Python predictor that answers with its inputs (every datatype and shape), its
process id, and on request sleeps first (a request held in flight, or a hung model) or
allocates memory (a model that blows up its worker's memory)."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np


class Echo:
    def predict(self, inputs: dict[str, np.ndarray], parameters: dict[str, Any]) -> dict[str, Any]:
        if "started" in parameters:  # say that the request has reached the model
            with open(parameters["started"], "w") as f:
                f.write(str(os.getpid()))
        if "sleep" in parameters:
            time.sleep(float(parameters["sleep"]))
        if "allocate_mb" in parameters:  # held until the answer is made
            hog = bytearray(int(parameters["allocate_mb"]) << 20)
            assert len(hog)
        out: dict[str, Any] = {name: array for name, array in inputs.items()}
        out["pid"] = np.array([os.getpid()], dtype=np.int64)
        return out
