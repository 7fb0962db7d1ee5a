"""The task file protocol: one JSON task input in, one JSON task output out.

The layout is a superset of Kubeflow's ExecutorInput / ExecutorOutput:
``inputs.parameterValues``, ``inputs.artifacts.<name>.artifacts[]``,
``outputs.artifacts.<name>.artifacts[]`` and ``outputs.outputFile`` mean what
they mean there. Headwater's own fields live under ``headwater``.

What the task process's modules (running the function, its output artifacts, an
importer) share lives here too, so that they import one way: :class:`TaskError`, the
artifact class an entry's ``schemaTitle`` names, and the plain JSON values an output
holds.
"""

from __future__ import annotations

import json
import os
from typing import Any

TASK_SCHEMA = "headwater.task/v1"


class TaskError(Exception):
    """A problem with the task itself (not an exception from user code); the task output
    reports it with error type ``TaskError``."""


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
    # dumps, not dump: dump streams through the pure-Python encoder, many times slower.
    text = json.dumps(data, allow_nan=False, separators=(",", ":"))
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def read_json(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def artifact_class(schema_title: str) -> type:
    """The artifact class with ``schema_title`` among those loaded (a user's own included)."""
    from headwater.sdk import Artifact

    pending: list[type] = [Artifact]
    while pending:
        cls = pending.pop()
        if cls.__dict__.get("schema_title") == schema_title:
            return cls
        pending.extend(cls.__subclasses__())
    return Artifact


def plain_value(value: Any) -> Any:
    """numpy scalars and tuples to plain JSON values."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "shape", None) == ():
        return value.item()
    if isinstance(value, tuple | list):
        return [plain_value(v) for v in value]
    if isinstance(value, dict):
        return {k: plain_value(v) for k, v in value.items()}
    return value
