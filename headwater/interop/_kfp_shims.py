"""Code the compiled components carry besides the user's: the module's first lines, and
the small adapters that give a Headwater function what Headwater would (its FinalStatus,
Metrics.log_metric with a step, ints inside lists and dicts)."""

from __future__ import annotations

from typing import Any

from headwater.spec import ParamType

ENGINE_ENV = ("HEADWATER_RUN_ID", "HEADWATER_TASK", "HEADWATER_ATTEMPT")

HEAD = "import kfp\nfrom kfp import dsl\nfrom kfp.dsl import *\nfrom typing import *\n"

# Headwater's FinalStatus, filled from Kubeflow's PipelineTaskFinalStatus; Kubeflow names
# no failed tasks, and its run is the pipeline job's resource name.
FINAL_STATUS = '''
class FinalStatus(NamedTuple):
    """How the tasks an ExitHandler guards ended (Headwater's FinalStatus)."""

    state: str
    pipeline: str = ""
    run_id: str = ""
    error_message: Optional[str] = None
    failed_tasks: List[str] = []


def _headwater_final_status(status, pipeline):
    return FinalStatus(
        state="succeeded" if str(status.state).upper() == "SUCCEEDED" else "failed",
        pipeline=pipeline,
        run_id=status.pipeline_job_resource_name or "",
        error_message=status.error_message or None,
        failed_tasks=[],
    )
'''

# Headwater's Metrics.log_metric takes a step (Kubeflow keeps the latest value either way),
# and a metrics output the function did not write holds its values as JSON, as in Headwater:
# written when the executor's process ends, before Kubeflow uploads the outputs.
METRICS = """
def _headwater_metrics(artifact):
    import atexit
    import json
    import math
    import os

    def log_metric(name, value, step=None):
        if not isinstance(name, str) or not name:
            raise ValueError("metric name must be a non-empty string")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"metric {name!r} must be a number, not {type(value).__name__}")
        if not math.isfinite(value):
            raise ValueError(f"metric {name!r} is {value}; metrics must be finite numbers")
        if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
            raise TypeError(f"step of metric {name!r} must be an int")
        artifact.metadata[name] = value

    def keep_values():
        if not os.path.exists(artifact.path):
            os.makedirs(os.path.dirname(artifact.path), exist_ok=True)
            with open(artifact.path, "w", encoding="utf-8") as f:
                json.dump(artifact.metadata, f, sort_keys=True)

    artifact.log_metric = log_metric
    atexit.register(keep_values)
    return artifact
"""

# Kubeflow may pass the numbers inside a list or dict as floats (kfp.local does): those
# the component declares int come back as ints, as Headwater gives them.
INTS = """
def _headwater_ints(value, shape):
    if value is None:
        return value
    if shape == "int":
        return int(value) if isinstance(value, float) and value.is_integer() else value
    kind, inner = shape
    if kind == "list" and isinstance(value, list):
        return [_headwater_ints(v, inner) for v in value]
    if kind == "dict" and isinstance(value, dict):
        return {k: _headwater_ints(v, inner) for k, v in value.items()}
    return value
"""


def int_shape(t: ParamType | None) -> Any:
    """Where ``t`` holds ints: ``"int"``, ``("list", shape)``, ``("dict", shape)``, or None."""
    if t is None:
        return None
    if t.kind == "int":
        return "int"
    if t.kind == "list" and (inner := int_shape(t.items)) is not None:
        return ("list", inner)
    if t.kind == "dict" and (inner := int_shape(t.values)) is not None:
        return ("dict", inner)
    return None
