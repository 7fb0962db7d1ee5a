"""A Python predictor that answers with its version's tag (``tag.txt`` beside it) and
records every call it gets in ``calls.log`` beside it; with a ``fail`` file there, it
fails every call after recording it (a shadow whose errors must never reach a client)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np


class Tagged:
    def load(self, path: str) -> None:
        with open(os.path.join(path, "tag.txt")) as f:
            self.tag = int(f.read())
        self.fail = os.path.exists(os.path.join(path, "fail"))
        self.calls = open(os.path.join(path, "calls.log"), "a", buffering=1)  # noqa: SIM115

    def predict(self, inputs: dict[str, np.ndarray], parameters: dict[str, Any]) -> dict[str, Any]:
        self.calls.write(f"{os.getpid()}\n")
        if self.fail:
            raise RuntimeError("this shadow fails every call")
        x = inputs["x"]
        return {"tag": np.full(x.shape, self.tag, dtype=np.int64)}
