"""Authoring: components, pipelines, artifacts and control flow.

Import what you need from :mod:`headwater`; this package also exposes the
authoring graph types (``Task``, ``Component``, ``Pipeline``) for annotations, and
loading pipelines from user files (``load_pipeline("file.py:name")``) for the CLI,
the engine and the task process.
"""

import typing as _typing

from headwater.sdk._artifacts import (
    HTML,
    Artifact,
    ClassificationMetrics,
    Dataset,
    FinalStatus,
    Input,
    Markdown,
    Metrics,
    Model,
    Output,
    TensorBoardLogs,
)
from headwater.sdk._assets import Asset, AssetCondition
from headwater.sdk._component import Component, component, importer
from headwater.sdk._graph import (
    Channel,
    Collected,
    Elif,
    Else,
    ExitHandler,
    If,
    MappedTask,
    ParallelFor,
    Task,
    product,
)
from headwater.sdk._graph import zip_lists as zip
from headwater.sdk._location import compile_root
from headwater.sdk._models import clear_registrations, register_model, take_registrations
from headwater.sdk._notify import Email, Notify, Slack, Webhook
from headwater.sdk._param import Param
from headwater.sdk._pipeline import Pipeline, pipeline
from headwater.sdk._requirements import requirement_name, requirement_problem
from headwater.sdk._secrets import (
    REDACT_ENV,
    REF_NAME_HINT,
    Connection,
    connection,
    connection_env,
    connection_uri,
    ref_name_problem,
    secret,
    secret_env,
    variable,
    variable_env,
)
from headwater.sdk._sensors import (
    sensor,
    wait_for_asset,
    wait_for_http,
    wait_for_path,
    wait_for_run,
    wait_for_sql,
    wait_until,
)
from headwater.sdk._template import Template
from headwater.sdk._tune import TuneStep, tune_step

if _typing.TYPE_CHECKING:
    from headwater.sdk._loader import load_module, load_pipeline, pipelines_in, split_target

__all__ = [
    "HTML",
    "REDACT_ENV",
    "REF_NAME_HINT",
    "Artifact",
    "Asset",
    "AssetCondition",
    "Channel",
    "ClassificationMetrics",
    "Collected",
    "Component",
    "Connection",
    "Dataset",
    "Elif",
    "Else",
    "Email",
    "ExitHandler",
    "FinalStatus",
    "If",
    "Input",
    "MappedTask",
    "Markdown",
    "Metrics",
    "Model",
    "Notify",
    "Output",
    "ParallelFor",
    "Param",
    "Pipeline",
    "Slack",
    "Task",
    "Template",
    "TensorBoardLogs",
    "TuneStep",
    "Webhook",
    "clear_registrations",
    "compile_root",
    "component",
    "connection",
    "connection_env",
    "connection_uri",
    "importer",
    "load_module",
    "load_pipeline",
    "pipeline",
    "pipelines_in",
    "product",
    "ref_name_problem",
    "register_model",
    "requirement_name",
    "requirement_problem",
    "secret",
    "secret_env",
    "sensor",
    "split_target",
    "take_registrations",
    "tune_step",
    "variable",
    "variable_env",
    "wait_for_asset",
    "wait_for_http",
    "wait_for_path",
    "wait_for_run",
    "wait_for_sql",
    "wait_until",
    "zip",
]

# Loading user files needs importlib.util and pathlib, which ``import headwater`` and
# the task process do without until a file is loaded: those names load on first use.
_LOADER = frozenset({"load_module", "load_pipeline", "pipelines_in", "split_target"})

if not _typing.TYPE_CHECKING:  # hidden from the type checker, so a misspelt name stays an error

    def __getattr__(name: str) -> object:
        if name not in _LOADER:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from headwater.sdk import _loader

        value = getattr(_loader, name)
        globals()[name] = value
        return value
