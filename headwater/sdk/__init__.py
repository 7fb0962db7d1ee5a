"""Authoring: components, pipelines, artifacts and control flow.

Import what you need from :mod:`headwater`; this package also exposes the
authoring graph types (``Task``, ``Component``, ``Pipeline``) for annotations.
"""

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
    ParallelFor,
    Task,
)
from headwater.sdk._notify import Email, Notify, Slack, Webhook
from headwater.sdk._param import Param
from headwater.sdk._pipeline import Pipeline, pipeline

__all__ = [
    "HTML",
    "Artifact",
    "Asset",
    "AssetCondition",
    "Channel",
    "ClassificationMetrics",
    "Collected",
    "Component",
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
    "Notify",
    "Output",
    "ParallelFor",
    "Param",
    "Pipeline",
    "Slack",
    "Task",
    "Webhook",
    "component",
    "importer",
    "pipeline",
]
