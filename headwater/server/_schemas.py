"""The API's request and response bodies (frozen pydantic models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

T = TypeVar("T")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class Page(_Out, Generic[T]):
    """One page of a list: ``next_offset`` is None on the last page."""

    items: list[T]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class Problem(_Out):
    """Every error: what was wrong, where, and how to fix it."""

    error: str
    hint: str | None = None
    where: dict[str, Any] | None = None


class Health(_Out):
    status: str
    version: str
    database: str


class RunOut(_Out):
    id: str
    pipeline: str
    pipeline_id: str
    version_id: str
    status: str
    parameters: dict[str, Any]
    trigger: str
    cache_enabled: bool
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    engine_host: str | None
    heartbeat_at: datetime | None
    cancel_requested_at: datetime | None = None
    deadline_missed_at: datetime | None = None
    confined: bool = Field(
        False, description="Created or requeued through a server: reads only the URI roots."
    )
    experiment: str = Field("", description="The experiment the run belongs to.")


class ExperimentOut(_Out):
    name: str
    runs: int = Field(description="How many runs belong to it.")
    last_run_at: datetime
    pipelines: list[str] = Field(description="The pipelines its runs are of.")


class ComparedRunOut(_Out):
    id: str
    pipeline: str
    experiment: str
    status: str
    created_at: datetime
    parameters: dict[str, Any]
    metrics: dict[str, float] = Field(description="Final metric values by column name.")


class ComparisonOut(_Out):
    parameters: list[str] = Field(description="Parameter columns (params.NAME in filters).")
    metrics: list[str] = Field(
        description="Metric columns: a key one task logs, else TASK.KEY for each task."
    )
    total: int = Field(description="Runs compared, before the filters.")
    matched: int = Field(description="Runs that passed the filters.")
    runs: list[ComparedRunOut]


class StudyOut(_Out):
    name: str
    pipeline: str
    objective: str = Field(description="TASK.METRIC")
    direction: str
    sampler: str
    pruner: str
    status: str
    space: dict[str, Any]
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    trials: dict[str, int] = Field(description="How many trials are in each state.")


class TrialOut(_Out):
    number: int
    state: str
    params: dict[str, Any]
    value: float | None
    run_id: str | None
    created_at: datetime
    finished_at: datetime | None


class HistoryPoint(_Out):
    number: int
    value: float
    best: float = Field(description="The best value up to this trial.")


class StudyDetail(StudyOut):
    trial_list: list[TrialOut]
    best: int | None = Field(description="The best trial's number.")
    history: list[HistoryPoint]
    importance: dict[str, float] = Field(
        description="Each parameter's share of the objective's variance (fANOVA)."
    )


class TaskOut(_Out):
    id: str
    run_id: str
    path: str
    task: str
    component: str
    attempt: int
    status: str
    inputs: dict[str, Any] | None
    outputs: dict[str, Any] | None
    cache_key: str | None
    cached_from: str | None
    exit_code: int | None
    error: str | None
    node: str | None = Field(None, description="Where the attempt's process ran.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    retry_at: datetime | None
    pool: str | None = None
    priority: int | None = None
    cleared: bool = False
    deferred_at: datetime | None = Field(
        None, description="A sensor: when its wait began (its timeout counts from creation)."
    )
    wake_at: datetime | None = Field(
        None, description="A deferred sensor: when it is next checked or poked."
    )
    pokes: int | None = Field(None, description="A sensor: how many checks found it not ready.")


class RunDetail(RunOut):
    tasks: list[TaskOut]
    outputs: dict[str, Any] | None = Field(
        None,
        description="The pipeline's own outputs (what its function returns) once the run has "
        "succeeded: 'parameters' by value and 'artifacts' by id; null until then, and for a "
        "run that failed or was cancelled.",
    )


class TriggerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parameters: dict[str, Any] = Field(default_factory=dict)
    version: str | None = Field(
        None, description="A version id; the newest deployed one if left out."
    )
    cache: bool = True
    experiment: str | None = Field(
        None,
        max_length=128,
        description="The experiment the run belongs to; the pipeline's name if left out.",
    )


class ClearIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    downstream: bool = True


class Cleared(_Out):
    run_id: str
    cleared: list[str]
    status: str


class CancelOut(_Out):
    run_id: str
    status: str


class LogOut(_Out):
    text: str
    offset: int
    next_offset: int
    size: int
    complete: bool


class ArtifactOut(_Out):
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


class Preview(_Out):
    """The head of an artifact: ``table`` for tabular data, ``text`` otherwise."""

    kind: str
    media_type: str
    columns: list[str] | None = None
    rows: list[list[Any]] | None = None
    text: str | None = None
    truncated: bool


class LineageNodeOut(_Out):
    artifact: ArtifactOut
    depth: int
    task_run_id: str | None
    task: str | None
    run_id: str | None
    producer_task: str | None


class ServedOut(_Out):
    """A model version registered from the artifact (or from one made from it), and a
    deployment that served it: the last hop of lineage."""

    model: str
    version: int
    artifact_id: str
    deployment: str
    role: str
    server: str
    since: datetime
    until: datetime | None


class Lineage(_Out):
    artifact: ArtifactOut
    upstream: list[LineageNodeOut]
    downstream: list[LineageNodeOut]
    served: list[ServedOut] = []


class MetricOut(_Out):
    task: str
    key: str
    value: float
    step: int | None
    logged_at: datetime


class SeriesOut(_Out):
    """One metric of one task as arrays: ``step[i]`` (None when not logged) and ``value[i]``."""

    task: str
    key: str
    step: list[int | None]
    value: list[float]


class VersionOut(_Out):
    id: str
    pipeline: str
    digest: str
    created_at: datetime
    deployed: bool
    files: list[str]


class DeployedOut(VersionOut):
    """A deployed version; ``new`` is False when the same sources were deployed before."""

    new: bool


class VersionDetail(VersionOut):
    spec: dict[str, Any]


class ScheduleOut(_Out):
    pipeline: str
    version_id: str
    paused: bool
    kind: str | None
    cron: str | None
    interval_seconds: float | None
    timezone: str | None
    assets: list[str] | None
    asset_mode: str | None
    start_date: datetime | None
    end_date: datetime | None
    catchup: bool
    max_active_runs: int | None
    last_start: datetime | None
    last_end: datetime | None
    next_start: datetime | None
    next_end: datetime | None
    overrides: dict[str, Any] | None


class ScheduleIn(BaseModel):
    """Fields to change; left out means unchanged. ``reset`` returns to the deployed ones."""

    model_config = ConfigDict(extra="forbid")

    cron: str | None = Field(None, max_length=256)
    interval_seconds: float | None = Field(None, gt=0, le=10 * 366 * 86400, allow_inf_nan=False)
    timezone: str | None = Field(None, max_length=64)
    start_date: datetime | None = None
    end_date: datetime | None = None
    catchup: bool | None = None
    max_active_runs: int | None = Field(None, ge=1, le=1_000_000)
    paused: bool | None = None
    reset: bool = False

    @model_validator(mode="after")
    def _cron_or_interval(self) -> ScheduleIn:
        if self.cron is not None and self.interval_seconds is not None:
            raise ValueError("give a cron expression or interval_seconds, not both")
        return self


class PipelineOut(_Out):
    id: str
    name: str
    description: str | None
    versions: int
    latest_version_id: str
    updated_at: datetime
    tags: list[str]
    owner: str | None
    parameters: dict[str, Any]
    schedule: str | None
    paused: bool | None
    next_run_at: datetime | None
    recent_runs: list[RunOut]


class BackfillIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: datetime
    end: datetime
    reprocess: str = Field("none", pattern="^(none|failed|all)$")


class BackfillOut(_Out):
    trigger: str
    runs: list[RunOut]
    skipped: list[datetime]


class AssetOut(_Out):
    id: str
    name: str
    created_at: datetime
    events: int
    last_event_at: datetime | None


class AssetEventOut(_Out):
    id: int
    asset: str
    kind: Literal["task", "external"] = Field(
        description="task: a task's output updated the asset; external: reported from "
        "outside a run (the API, the CLI, a sensor)."
    )
    run_id: str | None
    task_run_id: str | None
    artifact_id: str | None
    created_at: datetime
    source: str | None = Field(
        description="An external event's reporter: the user and token that posted it, or "
        "the sensor that saw the update."
    )
    metadata: dict[str, Any] | None = Field(description="An external event's metadata.")
    triggered: list[str]


class AssetEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metadata: dict[str, Any] | None = Field(
        None,
        description="What to say about the update (Airflow's extra): an object of JSON "
        "values, at most 64 KiB as JSON. The runs it triggers see it.",
    )


class PoolOut(_Out):
    name: str
    slots: int | None
    description: str | None
    occupied: int
    waiting: int


class PoolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slots: int | None = Field(None, ge=0, le=1_000_000, description="None: unlimited.")
    description: str | None = Field(None, max_length=2000)


class UriRootOut(BaseModel):
    root: str = Field(description="An absolute path, or scheme://bucket/prefix.")
    kind: Literal["artifact root", "added"]
    description: str | None = None
    created_at: datetime | None = None


class UriRootsOut(BaseModel):
    namespace: str
    roots: list[UriRootOut]


class TokenOut(_Out):
    id: str
    user: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class Me(_Out):
    user: str
    role: str = Field(description="The server role: owner (everything, everywhere) or member.")
    namespaces: dict[str, str] = Field(
        description="The namespaces this user may work in, with their role in each "
        "(an owner: every namespace, as owner)."
    )
    token: TokenOut


class GridOut(_Out):
    """Runs (newest first) by task paths (in first-seen order), with each cell's state."""

    runs: list[RunOut]
    tasks: list[str]
    states: dict[str, dict[str, str]]
