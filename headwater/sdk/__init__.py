"""Authoring: components, pipelines, artifacts and control flow.

Import what you need from :mod:`headwater`; this package also exposes the
authoring graph types (``Task``, ``Component``, ``Pipeline``) for annotations, and
loading pipelines from user files (``load_pipeline("file.py:name")``) for the CLI,
the engine and the task process.
"""

import typing as _typing

if _typing.TYPE_CHECKING:
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
    from headwater.sdk._loader import load_module, load_pipeline, pipelines_in, split_target
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

# Each name loads its module on first use: a process that needs one part of the SDK (the
# store its connection type, a task process its artifact classes) loads only that part.
_WHERE: dict[str, tuple[str, str]] = {
    "Artifact": ("_artifacts", "Artifact"),
    "Asset": ("_assets", "Asset"),
    "AssetCondition": ("_assets", "AssetCondition"),
    "Channel": ("_graph", "Channel"),
    "ClassificationMetrics": ("_artifacts", "ClassificationMetrics"),
    "Collected": ("_graph", "Collected"),
    "Component": ("_component", "Component"),
    "Connection": ("_secrets", "Connection"),
    "Dataset": ("_artifacts", "Dataset"),
    "Elif": ("_graph", "Elif"),
    "Else": ("_graph", "Else"),
    "Email": ("_notify", "Email"),
    "ExitHandler": ("_graph", "ExitHandler"),
    "FinalStatus": ("_artifacts", "FinalStatus"),
    "HTML": ("_artifacts", "HTML"),
    "If": ("_graph", "If"),
    "Input": ("_artifacts", "Input"),
    "MappedTask": ("_graph", "MappedTask"),
    "Markdown": ("_artifacts", "Markdown"),
    "Metrics": ("_artifacts", "Metrics"),
    "Model": ("_artifacts", "Model"),
    "Notify": ("_notify", "Notify"),
    "Output": ("_artifacts", "Output"),
    "ParallelFor": ("_graph", "ParallelFor"),
    "Param": ("_param", "Param"),
    "Pipeline": ("_pipeline", "Pipeline"),
    "REDACT_ENV": ("_secrets", "REDACT_ENV"),
    "REF_NAME_HINT": ("_secrets", "REF_NAME_HINT"),
    "Slack": ("_notify", "Slack"),
    "Task": ("_graph", "Task"),
    "Template": ("_template", "Template"),
    "TensorBoardLogs": ("_artifacts", "TensorBoardLogs"),
    "TuneStep": ("_tune", "TuneStep"),
    "Webhook": ("_notify", "Webhook"),
    "clear_registrations": ("_models", "clear_registrations"),
    "compile_root": ("_location", "compile_root"),
    "component": ("_component", "component"),
    "connection": ("_secrets", "connection"),
    "connection_env": ("_secrets", "connection_env"),
    "connection_uri": ("_secrets", "connection_uri"),
    "importer": ("_component", "importer"),
    "load_module": ("_loader", "load_module"),
    "load_pipeline": ("_loader", "load_pipeline"),
    "pipeline": ("_pipeline", "pipeline"),
    "pipelines_in": ("_loader", "pipelines_in"),
    "product": ("_graph", "product"),
    "ref_name_problem": ("_secrets", "ref_name_problem"),
    "register_model": ("_models", "register_model"),
    "requirement_name": ("_requirements", "requirement_name"),
    "requirement_problem": ("_requirements", "requirement_problem"),
    "secret": ("_secrets", "secret"),
    "secret_env": ("_secrets", "secret_env"),
    "sensor": ("_sensors", "sensor"),
    "split_target": ("_loader", "split_target"),
    "take_registrations": ("_models", "take_registrations"),
    "tune_step": ("_tune", "tune_step"),
    "variable": ("_secrets", "variable"),
    "variable_env": ("_secrets", "variable_env"),
    "wait_for_asset": ("_sensors", "wait_for_asset"),
    "wait_for_http": ("_sensors", "wait_for_http"),
    "wait_for_path": ("_sensors", "wait_for_path"),
    "wait_for_run": ("_sensors", "wait_for_run"),
    "wait_for_sql": ("_sensors", "wait_for_sql"),
    "wait_until": ("_sensors", "wait_until"),
    "zip": ("_graph", "zip_lists"),
}


if not _typing.TYPE_CHECKING:  # hidden from the type checker, so a misspelt name stays an error

    def __getattr__(name: str) -> object:
        found = _WHERE.get(name)
        if found is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(f"headwater.sdk.{found[0]}"), found[1])
        globals()[name] = value
        return value
