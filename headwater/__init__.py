"""Headwater: typed ML pipelines that run on a laptop and schedule like Airflow.

    from headwater import component, pipeline, Input, Output, Dataset, Model

    @component
    def train(data: Input[Dataset], model: Output[Model], lr: float = 0.1) -> float: ...

    @pipeline
    def training(lr: float = 0.1):
        train(data=load().output, lr=lr)

``import headwater`` stays light: the spec models, the store and the server
load only when they are used.
"""

import typing as _typing

from headwater._version import __version__
from headwater.sdk import (
    HTML,
    Artifact,
    Asset,
    ClassificationMetrics,
    Collected,
    Dataset,
    Elif,
    Else,
    Email,
    ExitHandler,
    FinalStatus,
    If,
    Input,
    Markdown,
    Metrics,
    Model,
    Output,
    ParallelFor,
    Param,
    Slack,
    Webhook,
    component,
    importer,
    pipeline,
    register_model,
)

if _typing.TYPE_CHECKING:
    from headwater.engine import Run
    from headwater.sdk import Pipeline
    from headwater.spec import PipelineSpec

__all__ = [
    "HTML",
    "Artifact",
    "Asset",
    "ClassificationMetrics",
    "Collected",
    "Dataset",
    "Elif",
    "Else",
    "Email",
    "ExitHandler",
    "FinalStatus",
    "If",
    "Input",
    "Markdown",
    "Metrics",
    "Model",
    "Output",
    "ParallelFor",
    "Param",
    "Slack",
    "Webhook",
    "__version__",
    "compile",
    "component",
    "importer",
    "pipeline",
    "register_model",
    "run",
]


def compile(
    pipeline: "Pipeline", path: _typing.Any = None, *, format: str = "json"
) -> "PipelineSpec":
    """Compile ``pipeline`` to a validated spec; also write it to ``path`` if given.

    Raises :class:`headwater.errors.ValidationError` listing every problem found.
    """
    from pathlib import Path

    from headwater.spec import dumps

    spec = pipeline.compile()
    if path is not None:
        Path(path).write_text(dumps(spec, format=format), encoding="utf-8")
    return spec


def run(
    pipeline: "Pipeline",
    /,
    *,
    cache: bool = True,
    max_parallel: int | None = None,
    experiment: str | None = None,
    **params: _typing.Any,
) -> "Run":
    """Run ``pipeline`` on this machine with ``params``; return the finished :class:`Run`.

    The run belongs to ``experiment`` (by default, the one named after the pipeline).

    Every task runs in its own process; runs, tasks, artifacts, metrics and lineage
    are recorded under ``HEADWATER_HOME``::

        result = headwater.run(training, lr=0.05)
        result.status, result.outputs("train")["model"].path, result.metrics
    """
    from headwater.engine import run_pipeline
    from headwater.scheduler import manual_context

    spec = pipeline.compile()
    return run_pipeline(
        pipeline,
        params,
        cache=cache,
        max_parallel=max_parallel,
        context=lambda run_id: manual_context(spec, run_id, params),
        experiment=experiment,
    )
