"""What the store hands back: frozen records of pipelines, runs, attempts, artifacts and
schedules, and how each is read from a row."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa

from headwater.errors import InvalidValue
from headwater.states import RunStatus, TaskStatus
from headwater.store import _schema as t
from headwater.store._base import fields_of, new_id

EXPERIMENT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def check_experiment(name: str) -> str:
    """``name`` if it can name an experiment (as a pipeline's name can), else a clear error."""
    if not isinstance(name, str) or not EXPERIMENT_RE.match(name):
        shown = repr(name)[:80]
        raise InvalidValue(
            f"experiment name {shown} is not valid",
            hint="use 1 to 128 letters, digits, '_', '.' or '-', starting with a letter, "
            "a digit or '_'",
        )
    return name


RUN_TEMPLATES = "$templates"
"""The key under which a run's rendered task templates (``headwater.Template`` arguments,
template text -> rendered text) are stored with its parameters. No parameter can have this
name (parameter names are Python identifiers); :func:`run_record` moves it out of
``parameters`` into :attr:`RunRecord.templates` (docs/adr/0029-templated-task-arguments.md)."""


def split_templates(stored: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Stored run parameters as ``(parameters, rendered task templates)``."""
    if RUN_TEMPLATES not in stored:
        return stored, {}
    params = dict(stored)
    return params, params.pop(RUN_TEMPLATES) or {}


@dataclass(frozen=True)
class RunRecord:
    id: str
    pipeline_id: str
    pipeline: str
    version_id: str
    status: RunStatus
    parameters: dict[str, Any]
    trigger: str
    cache_enabled: bool
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    engine_host: str | None
    engine_pid: int | None
    heartbeat_at: datetime | None
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    engine_id: str | None = None
    deadline_missed_at: datetime | None = None
    cancel_requested_at: datetime | None = None
    # Created or requeued through a server: it may read only its namespace's URI roots.
    confined: bool = False
    # The pipeline's outputs once the run has succeeded (parameters by value, artifacts by
    # id); None before that, and when it failed or was cancelled.
    outputs: dict[str, Any] | None = None
    # The experiment the run belongs to; by default its pipeline's name.
    experiment: str = ""
    # Its tasks' templates (headwater.Template), rendered when it was created: the text of
    # each template -> what it rendered to. Stored with the parameters (RUN_TEMPLATES).
    templates: dict[str, str] = field(default_factory=dict)

    def stored_parameters(self) -> dict[str, Any]:
        """The parameters as the run stores them: with its rendered templates, if any."""
        if not self.templates:
            return self.parameters
        return {**self.parameters, RUN_TEMPLATES: self.templates}


@dataclass(frozen=True)
class ScheduleRecord:
    """A pipeline's schedule: the deployed version it runs and the last interval it covered."""

    pipeline_id: str
    pipeline: str
    version_id: str
    paused: bool
    last_start: datetime | None
    last_end: datetime | None
    created_at: datetime
    updated_at: datetime
    overrides: dict[str, Any] | None = None
    asset_cursor: int | None = None


@dataclass(frozen=True)
class TaskRunRecord:
    id: str
    run_id: str
    path: str
    task: str
    component: str
    attempt: int
    status: TaskStatus
    inputs: dict[str, Any] | None
    outputs: dict[str, Any] | None
    cache_key: str | None
    cached_from: str | None
    pid: int | None
    exit_code: int | None
    error: str | None
    log_path: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    retry_at: datetime | None
    pool: str | None = None
    pool_slots: int | None = None
    priority: int | None = None
    cleared_at: datetime | None = None
    node: str | None = None
    deferred_at: datetime | None = None
    wake_at: datetime | None = None
    pokes: int | None = None

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


@dataclass(frozen=True)
class ArtifactRecord:
    id: str
    run_id: str | None
    task_run_id: str | None
    name: str
    type: str
    uri: str
    digest: str | None
    size: int | None
    metadata: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class VersionRecord:
    """An immutable pipeline version: its spec and, when deployed, a snapshot of the source
    files its components need (``source_manifest``: path -> content digest).

    ``digest`` identifies the version: the spec digest alone, or with the snapshot's
    manifest. ``new`` says whether the call that returned it created it.
    """

    id: str
    pipeline_id: str
    pipeline: str
    digest: str
    spec: dict[str, Any]
    source_root: str | None
    created_at: datetime
    spec_digest: str | None = None
    source_manifest: dict[str, str] | None = None
    new: bool = False


@dataclass(frozen=True)
class NewArtifact:
    """An artifact a task produced, to be recorded with the task's completion."""

    name: str
    type: str
    uri: str
    digest: str | None
    size: int | None
    metadata: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)


@dataclass(frozen=True)
class MetricPoint:
    key: str
    value: float
    step: int | None
    logged_at: datetime
    artifact_id: str | None = None


@dataclass(frozen=True)
class LineageNode:
    """An artifact found by a lineage walk, ``depth`` hops away.

    ``task_run`` is the attempt that links it to the previous hop (the consumer,
    walking upstream; the producer, walking downstream); ``producer`` is the
    attempt that made it.
    """

    artifact: ArtifactRecord
    task_run: TaskRunRecord | None
    depth: int
    producer: TaskRunRecord | None = None


# A run's columns with its pipeline's name, as RunRecord wants them.
RUN_COLUMNS = [*t.runs.c, t.pipelines.c.name.label("pipeline")]


def version_record(row: sa.Row[Any], pipeline: str) -> VersionRecord:
    values = fields_of(VersionRecord, row._mapping)
    values.update(pipeline=pipeline, new=False)
    return VersionRecord(**values)


def schedule_record(row: sa.Row[Any]) -> ScheduleRecord:
    values = fields_of(ScheduleRecord, row._mapping)
    values["paused"] = bool(values["paused"])
    return ScheduleRecord(**values)


def run_record(row: sa.Row[Any]) -> RunRecord:
    values = fields_of(RunRecord, row._mapping)
    params, templates = split_templates(values["parameters"] or {})
    values.update(
        status=RunStatus(values["status"]),
        parameters=params,
        templates=templates,
        cache_enabled=bool(values["cache_enabled"]),
        confined=bool(values["confined"]),
    )
    return RunRecord(**values)


def task_record(row: sa.Row[Any] | dict[str, Any]) -> TaskRunRecord:
    m = row if isinstance(row, dict) else row._mapping
    values = fields_of(TaskRunRecord, m)
    values["status"] = TaskStatus(values["status"])
    return TaskRunRecord(**values)


def artifact_record(row: sa.Row[Any]) -> ArtifactRecord:
    values = fields_of(ArtifactRecord, row._mapping)
    values["metadata"] = values["metadata"] or {}
    return ArtifactRecord(**values)


@dataclass(frozen=True)
class ExperimentSummary:
    """An experiment: how many runs it has, of which pipelines, and when the last began."""

    name: str
    runs: int
    last_run_at: datetime
    pipelines: tuple[str, ...]


class RunResult(NamedTuple):
    """What comparing a run needs of it: who it is, its parameters, and the final value
    of each metric its tasks logged, by task path and key (the value logged last: the
    highest step of a step-wise metric)."""

    id: str
    pipeline: str
    experiment: str
    status: str
    created_at: datetime
    parameters: dict[str, Any]
    metrics: dict[str, dict[str, float]]


# ---------------------------------------------------------------------- model registry

# The same rules as headwater/sdk/_registry.py (which the SDK keeps free of SQLAlchemy);
# tests/registry/test_registry_store.py pins them equal.
MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
ALIAS_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
#: ``NAME@latest`` always means the newest version; no alias may take the name.
LATEST = "latest"
#: The artifact types a model version may be (a user's subclass of Model registered from
#: inside its task is checked there, by class).
MODEL_TYPES = frozenset({"headwater.Model", "system.Model"})


def check_model_name(name: Any) -> str:
    """``name`` if it can name a registered model, else a clear error."""
    if not isinstance(name, str) or not MODEL_NAME_RE.match(name):
        raise InvalidValue(
            f"model name {repr(name)[:80]} is not valid",
            hint="use 1 to 128 letters, digits, '_', '.' or '-', starting with a letter, "
            "a digit or '_'; e.g. 'churn'",
        )
    return name


def check_alias(alias: Any) -> str:
    """``alias`` if it can name an alias of a model version, else a clear error."""
    if not isinstance(alias, str) or not ALIAS_RE.match(alias) or alias == LATEST:
        why = "is reserved (NAME@latest is the newest version)" if alias == LATEST else ""
        raise InvalidValue(
            f"alias {repr(alias)[:80]} is not valid" + (f": it {why}" if why else ""),
            hint="use 1 to 64 letters, digits, '_' or '-', starting with a letter or '_'; "
            "e.g. 'champion'",
        )
    return alias


def check_tags(tags: Any) -> dict[str, str]:
    """``tags`` as a dict of short strings, else a clear error."""
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise InvalidValue(
            f"tags must be a mapping of names to text, got {type(tags).__name__}",
            hint="use e.g. tags={'team': 'growth'}",
        )
    for key, value in tags.items():
        if not isinstance(key, str) or not 0 < len(key) <= 128:
            raise InvalidValue(
                f"tag name {repr(key)[:80]} is not valid",
                hint="tag names are text of 1 to 128 characters",
            )
        if not isinstance(value, str) or len(value) > 1024:
            raise InvalidValue(
                f"tag '{key}' must be text of at most 1024 characters, got {repr(value)[:80]}",
                hint="convert the value with str(...)",
            )
    return dict(tags)


@dataclass(frozen=True)
class ModelRecord:
    """A registered model: its name, its newest version's number and its aliases
    (alias -> version number)."""

    id: str
    name: str
    description: str | None
    tags: dict[str, str]
    last_version: int
    created_at: datetime
    updated_at: datetime
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelVersionRecord:
    """A version of a registered model: the artifact it is, the run and task attempt that
    made it, what it is (``flavor``, ``signature``) and the run's metrics when it was
    registered (task path -> metric -> final value)."""

    id: str
    model_id: str
    model: str
    version: int
    artifact_id: str
    run_id: str | None
    task_run_id: str | None
    flavor: str | None
    signature: dict[str, Any] | None
    tags: dict[str, str]
    description: str | None
    metrics: dict[str, dict[str, float]]
    created_by: str | None
    created_at: datetime
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class AliasChange:
    """An alias was set, moved or deleted: version numbers before and after (None: it
    did not exist before / was deleted), by whom and when."""

    alias: str
    from_version: int | None
    to_version: int | None
    actor: str | None
    created_at: datetime


@dataclass(frozen=True)
class NewModelVersion:
    """What a registration records besides the model's name and the artifact."""

    artifact_id: str
    run_id: str | None = None
    task_run_id: str | None = None
    flavor: str | None = None
    signature: dict[str, Any] | None = None
    tags: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    created_by: str | None = None
