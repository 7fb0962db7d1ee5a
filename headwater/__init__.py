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

if _typing.TYPE_CHECKING:
    from headwater.engine import Run
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
        Pipeline,
        Slack,
        Template,
        TensorBoardLogs,
        Webhook,
        component,
        connection,
        importer,
        pipeline,
        product,
        register_model,
        secret,
        sensor,
        tune_step,
        variable,
        wait_for_asset,
        wait_for_http,
        wait_for_path,
        wait_for_run,
        wait_for_sql,
        wait_until,
        zip,
    )
    from headwater.spec import PipelineSpec
    from headwater.tuning import StudyResult

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
    "Template",
    "TensorBoardLogs",
    "Webhook",
    "__version__",
    "compile",
    "component",
    "connection",
    "importer",
    "pipeline",
    "product",
    "register_model",
    "run",
    "secret",
    "sensor",
    "tune",
    "tune_step",
    "variable",
    "wait_for_asset",
    "wait_for_http",
    "wait_for_path",
    "wait_for_run",
    "wait_for_sql",
    "wait_until",
    "zip",
]


# The SDK loads on first use of one of its names: a command line that never touches a
# component (``headwater runs compare``) starts without it.
_SDK = frozenset(__all__) - {"__version__", "compile", "run", "tune"}


def __getattr__(name: str) -> _typing.Any:
    if name in _SDK:
        from headwater import sdk

        value = getattr(sdk, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'headwater' has no attribute {name!r}")


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
    from headwater.engine import live_view, run_pipeline
    from headwater.scheduler import manual_context

    spec = pipeline.compile()
    with live_view(spec.name) as view:  # in a notebook: a table that follows the run
        result = run_pipeline(
            pipeline,
            params,
            cache=cache,
            max_parallel=max_parallel,
            context=lambda run_id: manual_context(spec, run_id, params),
            experiment=experiment,
            observer=view,
        )
        if view is not None:
            view.finish(result)
    return result


def tune(
    pipeline: "Pipeline",
    /,
    *,
    space: _typing.Any,
    objective: str,
    direction: str = "maximize",
    trials: int = 20,
    parallel: int = 1,
    sampler: str = "tpe",
    pruner: str = "none",
    study: str | None = None,
    seed: int | None = None,
    max_failed: int | None = None,
    goal: float | None = None,
    cache: bool = True,
    executor: str | None = None,
    ray_address: str | None = None,
    **params: _typing.Any,
) -> "StudyResult":
    """Tune ``pipeline``'s parameters over ``space`` for the best ``objective``
    (``TASK.METRIC``: the final value of a metric that task logs); return the study.

    Each trial is a run of the pipeline in the experiment named after the study (cached:
    a step whose inputs do not change runs once), on ``executor`` (``local`` or ``ray``;
    default ``HEADWATER_EXECUTOR``, else local); ``params`` fix the other parameters::

        result = headwater.tune(
            training,
            space={"lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True}},
            objective="train.accuracy",
            trials=50,
            parallel=4,
        )
        result.best_params, result.best_value, result.best_run_id
    """
    import inspect
    import os

    from headwater.engine import Workspace
    from headwater.sdk import compile_root
    from headwater.tuning import start_study

    func = getattr(pipeline, "python_func", None)
    file = inspect.getsourcefile(func) if func is not None else None
    source_root = os.path.dirname(os.path.abspath(file)) if file else os.getcwd()
    with compile_root(source_root):
        spec = pipeline.compile()
    ws = Workspace.open()
    try:
        return start_study(
            ws,
            spec,
            source_root=source_root,
            space=space,
            objective=objective,
            direction=direction,
            trials=trials,
            parallel=parallel,
            sampler=sampler,
            pruner=pruner,
            name=study,
            seed=seed,
            max_failed=max_failed,
            goal=goal,
            params=params,
            cache=cache,
            executor=executor,
            ray_address=ray_address,
        )
    finally:
        ws.close()
