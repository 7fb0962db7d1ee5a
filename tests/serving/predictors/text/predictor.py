"""A Python predictor that pre- and post-processes: text and JSON in, numbers, text and
JSON out, with a vocabulary read in load()."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np


class TextModel:
    inputs = [
        {"name": "text", "datatype": "BYTES", "shape": [-1]},
        {"name": "meta", "datatype": "BYTES", "shape": [-1]},
    ]
    outputs = [
        {"name": "known", "datatype": "INT64", "shape": [-1]},
        {"name": "upper", "datatype": "BYTES", "shape": [-1]},
        {"name": "report", "datatype": "BYTES", "shape": [-1]},
    ]

    def load(self, path: str) -> None:
        with open(os.path.join(path, "vocab.json")) as f:
            self.vocab = set(json.load(f))

    def predict(self, inputs: dict[str, np.ndarray], parameters: dict[str, Any]) -> dict[str, Any]:
        texts = [t.decode() for t in inputs["text"]]
        metas = [json.loads(m) for m in inputs["meta"]]
        known = [sum(w in self.vocab for w in t.split()) for t in texts]
        suffix = parameters.get("suffix", "")
        return {
            "known": known,
            "upper": [t.upper() + suffix for t in texts],
            "report": [
                {"words": len(t.split()), "user": m.get("user")}
                for t, m in zip(texts, metas, strict=True)
            ],
        }
