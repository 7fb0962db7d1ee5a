"""The task options the Ray executor honours, in a module that does not import Ray, so
a server can refuse a run for the Ray executor before it connects to any cluster.

A task runs on a node as the local executor runs it there (timeouts, environment
variables, per-step environments, fresh interpreters), and Ray places it by its CPUs,
GPUs, memory, accelerator type and custom resources.
"""

from __future__ import annotations

RAY_HONOURED = frozenset(
    {
        "timeout_seconds",
        "env",
        "packages",
        "fresh_interpreter",
        "resources.cpu",
        "resources.memory_bytes",
        "resources.gpu",
        "resources.accelerator",
        "resources.custom",
    }
)


GPU_ENV = "CUDA_VISIBLE_DEVICES"


def ray_refuse(option: str, value: object) -> str | None:
    """Why the Ray executor cannot honour ``option`` (see :meth:`Executor.refuse`): an
    image, or a task's own ``CUDA_VISIBLE_DEVICES``, which the node sets to the GPUs Ray
    gave the task (none for a task that asks for none)."""
    if option == "env" and isinstance(value, dict) and GPU_ENV in value:
        return (
            f"the ray executor sets {GPU_ENV} to the GPUs Ray gives a task (none when it "
            "asks for none); ask for gpu= instead"
        )
    if option in RAY_HONOURED:
        return None
    if option == "image":
        return (
            "the ray executor runs steps on its nodes' Python; use packages= for its "
            "dependencies (made on each node) or compile the pipeline for Kubeflow"
        )
    return (
        f"the ray executor does not know the option {option}; leave it out, or run the "
        "pipeline on an executor that honours it"
    )
