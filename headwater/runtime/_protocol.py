"""The task file protocol: one JSON task input in, one JSON task output out.

The layout is a superset of Kubeflow's ExecutorInput / ExecutorOutput:
``inputs.parameterValues``, ``inputs.artifacts.<name>.artifacts[]``,
``outputs.artifacts.<name>.artifacts[]`` and ``outputs.outputFile`` mean what
they mean there. Headwater's own fields live under ``headwater``.
"""

from __future__ import annotations

import json
import os
from typing import Any

TASK_SCHEMA = "headwater.task/v1"


def artifact_entry(
    name: str,
    uri: str,
    schema_title: str,
    metadata: dict[str, Any] | None = None,
    path: str | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": name,
        "uri": uri,
        "type": {"schemaTitle": schema_title},
        "metadata": metadata or {},
    }
    if path is not None:
        entry["path"] = path
    return entry


def write_json(path: str, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically (a reader never sees half a file)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, allow_nan=False, separators=(",", ":"))
    os.replace(tmp, path)


def read_json(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data
