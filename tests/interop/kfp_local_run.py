"""Run compiled pipeline packages with ``kfp.local``: a script for the kfp peer's Python.

    python kfp_local_run.py JOBS.json RESULTS.json

JOBS is a list of ``{"file", "root", "args"}``: the package, the pipeline root kfp.local
writes under, the pipeline's arguments. RESULTS gets, per job, ``status`` (succeeded or
failed), ``error`` and ``outputs``: parameter values as they are, artifacts as their
schema title, metadata and (for a file) text. It imports only kfp, never headwater.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from typing import Any

warnings.simplefilter("ignore")

from kfp import components, dsl, local  # noqa: E402


def plain(value: Any) -> Any:
    if isinstance(value, dsl.Artifact):
        content = None
        if os.path.isfile(value.path):
            with open(value.path) as f:
                content = f.read()
        return {
            "schema_title": value.schema_title,
            "metadata": dict(value.metadata),
            "content": content,
        }
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def run(job: dict[str, Any]) -> dict[str, Any]:
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=job["root"],
        raise_on_error=True,
    )
    component = components.load_component_from_file(job["file"])
    try:
        task = component(**job["args"])
    except Exception as exc:  # kfp.local raises when a task of the pipeline failed
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "outputs": {}}
    names = list(component.component_spec.outputs or {})
    outputs = dict(task.outputs) if len(names) > 1 else {n: task.output for n in names}
    return {
        "status": "succeeded",
        "error": None,
        "outputs": {k: plain(v) for k, v in outputs.items()},
    }


def main() -> int:
    with open(sys.argv[1]) as f:
        jobs = json.load(f)
    results = [run(job) for job in jobs]
    with open(sys.argv[2], "w") as f:
        json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
