"""Output artifacts inside a task: where the function writes them, and what was written."""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from typing import Any

from headwater.runtime._protocol import TaskError, artifact_class, plain_value


def prepare_outputs(task: dict[str, Any], iface: dict[str, Any]) -> dict[str, Any]:
    """An artifact object per Output[...] parameter, its ``path`` ready to write to."""
    objs: dict[str, Any] = {}
    entries = task["outputs"].get("artifacts", {})
    for name, io in iface["outputs"].items():
        if io["kind"] != "artifact" or name in iface["returnOutputs"]:
            continue
        entry = entries[name]["artifacts"][0]
        path = entry.get("path")
        if path is None:
            path = os.path.join(tempfile.mkdtemp(prefix="hw-out-"), name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        cls = artifact_class(io["artifact_type"])
        objs[name] = cls(
            name=name, uri=entry["uri"], metadata=dict(entry.get("metadata") or {}), path=path
        )
    return objs


def collect_outputs(
    task: dict[str, Any], outputs: dict[str, Any], *, allow_empty: bool = False
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Check each output artifact was written; digest it, upload it if remote, gather metrics.

    With ``allow_empty`` (Kubeflow's rule) an output never written is stored as an empty
    file, or as its metadata for a metrics artifact."""
    from headwater.runtime._digest import digest_path
    from headwater.sdk import Metrics

    artifacts: dict[str, Any] = {}
    metrics: list[dict[str, Any]] = []
    for name, art in outputs.items():
        path = art.path
        is_metrics = isinstance(art, Metrics) or (
            allow_empty and art.schema_title.startswith("system.") and "Metrics" in art.schema_title
        )
        if os.path.islink(path):
            raise TaskError(
                f"output artifact '{name}' is a symbolic link (to {os.readlink(path)!r}); an "
                f"output is never a link. Write the file or folder itself at {name}.path"
            )
        if not os.path.exists(path):
            if allow_empty and not is_metrics:
                os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
                open(path, "wb").close()
            elif not is_metrics:
                raise TaskError(
                    f"output artifact '{name}' was never written: nothing exists at its path "
                    f"{path}. Write the file (or folder) at {name}.path before returning"
                )
            else:  # a metrics artifact may hold only logged values: store them as its content
                import json

                os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
                with open(path, "w", encoding="utf-8") as f:
                    json.dump(art.metadata, f, sort_keys=True)
        digest = digest_path(path)
        entry = task["outputs"]["artifacts"][name]["artifacts"][0]
        if entry.get("path") is None:
            import fsspec

            _no_links_out(name, path)  # an upload would copy what they point to

            fs, remote = fsspec.core.url_to_fs(entry["uri"])
            fs.put(path, remote, recursive=os.path.isdir(path))
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)
        artifacts[name] = {
            "artifacts": [
                {
                    "name": name,
                    "uri": entry["uri"],
                    "metadata": _jsonable(art.metadata),
                    "digest": digest.digest,
                    "size": digest.size,
                }
            ]
        }
        if is_metrics and not isinstance(art, Metrics):  # Kubeflow's: the numbers logged
            now = time.time()
            metrics.extend(
                {"key": k, "value": float(v), "step": None, "time": now, "artifact": name}
                for k, v in art.metadata.items()
                if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            )
        elif is_metrics:
            metrics.extend(
                {"key": r.key, "value": r.value, "step": r.step, "time": r.time, "artifact": name}
                for r in art.records
            )
    return artifacts, metrics


def _no_links_out(name: str, path: str) -> None:
    """Refuse a folder output holding a link that leads outside it."""
    if not os.path.isdir(path):
        return
    base = os.path.realpath(path)
    for folder, dirs, files in os.walk(path):
        for entry in dirs + files:
            full = os.path.join(folder, entry)
            target = os.path.realpath(full)
            if os.path.islink(full) and os.path.commonpath([base, target]) != base:
                raise TaskError(
                    f"output artifact '{name}' holds a link "
                    f"'{os.path.relpath(full, path)}' to {target!r}, outside the output; "
                    "copy the data into the output instead of linking to it"
                )


def _jsonable(metadata: dict[str, Any]) -> dict[str, Any]:
    import json

    clean = plain_value(metadata)
    try:
        json.dumps(clean, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TaskError(f"artifact metadata must be JSON values: {exc}") from None
    return clean  # type: ignore[no-any-return]
