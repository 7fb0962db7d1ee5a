"""The pipeline spec: plain, versioned, frozen data that the engine reads.

A spec is a tree: a :class:`PipelineSpec` holds a root :class:`ComponentSpec`
whose implementation is a DAG of nodes. A node is a task (one component call)
or a group (a condition, a loop or an exit handler) holding nodes of its own.
Task and group names are unique within one DAG, nested groups included; each
pipeline used as a component has its own DAG and so its own names.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

SCHEMA_VERSION = "headwater.pipeline/v1"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceLocation(_Model):
    """Where in the user's code a pipeline, component, task or group was written."""

    file: str
    line: int


# --------------------------------------------------------------------------- types


ParamKind = Literal["int", "float", "str", "bool", "list", "dict", "any"]


class ParamType(_Model):
    """The type of a parameter value: ``list[int]`` is ``kind=list, items=int``."""

    kind: ParamKind
    items: ParamType | None = None
    values: ParamType | None = None
    optional: bool = False

    @model_validator(mode="after")
    def _check_args(self) -> ParamType:
        if self.items is not None and self.kind != "list":
            raise ValueError(f"'items' is only allowed on list types, not {self.kind}")
        if self.values is not None and self.kind != "dict":
            raise ValueError(f"'values' is only allowed on dict types, not {self.kind}")
        return self

    def describe(self) -> str:
        if self.kind == "list" and self.items is not None:
            text = f"list[{self.items.describe()}]"
        elif self.kind == "dict" and self.values is not None:
            text = f"dict[str, {self.values.describe()}]"
        else:
            text = self.kind
        return f"Optional[{text}]" if self.optional else text


class ArtifactTypeInfo(_Model):
    """An artifact type known to the spec, with its ancestors (nearest first)."""

    schema_title: str
    bases: list[str] = []
    description: str | None = None


class Constraints(_Model):
    """JSON-Schema-style constraints on a parameter value."""

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    enum: list[JsonValue] | None = None


class IOSpec(_Model):
    """One input or output of a component.

    ``kind`` says what flows: a parameter (a JSON value of ``type``), an
    artifact (a file with metadata of ``artifact_type``; ``is_list`` for a
    collected fan-in), or the final status an exit handler task receives.
    """

    kind: Literal["parameter", "artifact", "final_status"]
    type: ParamType | None = None
    artifact_type: str | None = None
    is_list: bool = False
    has_default: bool = False
    default: JsonValue = None
    description: str | None = None
    constraints: Constraints | None = None

    @model_validator(mode="after")
    def _check_kind(self) -> IOSpec:
        if self.kind == "parameter" and self.type is None:
            raise ValueError("a parameter needs a 'type'")
        if self.kind == "artifact" and self.artifact_type is None:
            raise ValueError("an artifact needs an 'artifact_type'")
        if self.kind != "parameter" and self.type is not None:
            raise ValueError(f"'type' is only for parameters, not {self.kind}")
        if self.kind != "artifact" and (self.artifact_type is not None or self.is_list):
            raise ValueError(
                f"'artifact_type' and 'is_list' are only for artifacts, not {self.kind}"
            )
        if self.default is not None and not self.has_default:
            raise ValueError("'default' is set but 'has_default' is false")
        return self

    def describe(self) -> str:
        if self.kind == "parameter" and self.type is not None:
            return self.type.describe()
        if self.kind == "artifact":
            return f"list[{self.artifact_type}]" if self.is_list else str(self.artifact_type)
        return "FinalStatus"


# --------------------------------------------------------------------------- options


class TriggerRule(StrEnum):
    """When a task runs, given the states of its upstream tasks: Airflow's 13 rules, with
    Airflow's semantics (headwater/engine/_triggers.py, docs/authoring.md)."""

    ALL_SUCCESS = "all_success"
    ALL_FAILED = "all_failed"
    ALL_DONE = "all_done"
    ALL_DONE_MIN_ONE_SUCCESS = "all_done_min_one_success"
    ALL_DONE_SETUP_SUCCESS = "all_done_setup_success"
    ALL_SKIPPED = "all_skipped"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"
    ONE_DONE = "one_done"
    NONE_FAILED = "none_failed"
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"
    NONE_SKIPPED = "none_skipped"
    ALWAYS = "always"


class RetryPolicy(_Model):
    """Retry a failed attempt up to ``max_retries`` times.

    The wait before retry *n* (1-based) is ``delay_seconds * backoff_factor**(n-1)``,
    capped at ``max_delay_seconds``.
    """

    max_retries: int = Field(0, ge=0)
    delay_seconds: float = Field(0.0, ge=0)
    backoff_factor: float = Field(1.0, ge=1.0)
    max_delay_seconds: float | None = Field(None, ge=0)


class CachePolicy(_Model):
    enabled: bool = True
    ttl_seconds: float | None = Field(None, gt=0)


class Resources(_Model):
    cpu: float | None = Field(None, gt=0)
    memory_bytes: int | None = Field(None, gt=0)
    gpu: int | None = Field(None, ge=0)
    accelerator: str | None = None
    # Resources an executor's nodes declare (a Ray cluster's custom resources), by name.
    custom: dict[str, float] = {}


NotificationEvent = Literal["success", "failure", "retry", "deadline_missed"]

TASK_NOTIFICATION_EVENTS: tuple[NotificationEvent, ...] = ("success", "failure", "retry")
"""The events a task's own notifications may name (``deadline_missed`` is a run's)."""


class SensorPolicy(_Model):
    """How a sensor waits (Airflow's sensor arguments). Unset fields take the defaults
    :data:`SENSOR_DEFAULTS` names, so a task can change one field of its component's.

    It is checked every ``poke_interval_seconds`` (with ``exponential_backoff``, an
    interval that doubles after each false check, up to ``max_interval_seconds``) until
    its condition holds or ``timeout_seconds`` passed since it began to wait: then it
    fails, or is skipped with ``soft_fail``. Between checks it holds no process, task
    slot or pool slot (the ``deferred`` state).
    """

    poke_interval_seconds: float | None = Field(None, gt=0)
    timeout_seconds: float | None = Field(None, gt=0)
    soft_fail: bool | None = None
    exponential_backoff: bool | None = None
    max_interval_seconds: float | None = Field(None, gt=0)
    # An asset the sensor marks updated when its condition holds (an external event,
    # triggering the pipelines scheduled on it).
    updates_asset: str | None = None

    def overlay(self, top: SensorPolicy) -> SensorPolicy:
        return self.model_copy(update={k: getattr(top, k) for k in top.model_fields_set})

    def resolved(self) -> SensorPolicy:
        """Every field set: this policy's, else the default."""
        return SensorPolicy(
            **{
                k: v if (v := getattr(self, k)) is not None else SENSOR_DEFAULTS[k]
                for k in SensorPolicy.model_fields
            }
        )


# Airflow's defaults: a check a minute, for up to seven days; backoff capped at an hour.
SENSOR_DEFAULTS: dict[str, Any] = {
    "poke_interval_seconds": 60.0,
    "timeout_seconds": 7 * 24 * 3600.0,
    "soft_fail": False,
    "exponential_backoff": False,
    "max_interval_seconds": 3600.0,
    "updates_asset": None,
}


class NotificationSpec(_Model):
    """Where to tell someone about a run or task: Slack, email, a webhook or a Python callable."""

    kind: Literal["slack", "email", "webhook", "callable"]
    target: str
    on: list[NotificationEvent] = ["failure"]
    options: dict[str, JsonValue] = {}


class TaskOptions(_Model):
    """Per-task controls. ``None`` means "not set here": see :meth:`overlay`.

    ``pool``/``pool_slots``: the task takes ``pool_slots`` (default 1) slots of the
    named pool while it runs. ``priority`` (default 0): higher runs first when tasks
    wait for pool slots or concurrency limits. ``assets`` maps an artifact output
    name to an asset name that the output updates when the task succeeds.
    ``notifications`` fire on the task's ``success``, ``failure`` or ``retry``.
    ``secrets``, ``connections`` and ``variables`` name what the task reads from the
    store when it starts (docs/teams-and-security.md).
    ``setup``/``teardown`` make the task a setup or a teardown (Airflow's): a teardown
    runs after its setups and the work between them however that work ends (its default
    trigger rule is ``all_done_setup_success``), and its own failure does not fail the
    run unless ``on_failure_fail_run`` (Airflow's ``on_failure_fail_dagrun``) is true.
    None of these change a task's cache key.
    """

    display_name: str | None = None
    retry: RetryPolicy | None = None
    timeout_seconds: float | None = Field(None, gt=0)
    cache: CachePolicy | None = None
    resources: Resources | None = None
    env: dict[str, str] = {}
    packages: list[str] | None = None
    image: str | None = None
    trigger_rule: TriggerRule | None = None
    setup: bool | None = None
    teardown: bool | None = None
    on_failure_fail_run: bool | None = None
    fresh_interpreter: bool | None = None
    pool: str | None = None
    pool_slots: int | None = Field(None, ge=1)
    priority: int | None = None
    assets: dict[str, str] | None = None
    notifications: list[NotificationSpec] | None = None
    # Artifact output name -> registered model name: the output is registered as the
    # model's next version when the task succeeds (docs/registry.md).
    register_models: dict[str, str] | None = None
    # Names of the secrets, connections and variables the task gets (as environment
    # variables, read from the store when an attempt starts). Only names: never values.
    secrets: list[str] | None = None
    connections: list[str] | None = None
    variables: list[str] | None = None
    # How a sensor waits (only on sensors: a built-in wait or an @sensor function).
    sensor: SensorPolicy | None = None

    def overlay(self, top: TaskOptions) -> TaskOptions:
        """Options of ``self`` with every field that ``top`` sets taken from ``top``."""
        # Only what ``top`` was given can change anything (a field it leaves at its
        # default is None, or an empty env); both sides are valid already.
        changes: dict[str, Any] = {}
        for name in top.model_fields_set:
            theirs = getattr(top, name)
            if name == "env":
                if theirs:
                    changes[name] = {**self.env, **theirs}
            elif name == "sensor" and theirs is not None and self.sensor is not None:
                changes[name] = self.sensor.overlay(theirs)
            elif theirs is not None:
                changes[name] = theirs
        return self.model_copy(update=changes) if changes else self


# --------------------------------------------------------------------------- bindings


class ConstantBinding(_Model):
    kind: Literal["constant"]
    value: JsonValue


class PipelineInputBinding(_Model):
    """An input of the enclosing pipeline (a run parameter, or a nested pipeline's input)."""

    kind: Literal["pipeline_input"]
    name: str


class TaskOutputBinding(_Model):
    kind: Literal["task_output"]
    task: str
    output: str


class LoopItemBinding(_Model):
    """The current item of an enclosing ``ParallelFor``, or one key of it."""

    kind: Literal["loop_item"]
    loop: str
    key: str | None = None


class CollectedBinding(_Model):
    """Every iteration's value of a task output inside a ``ParallelFor``, as a list."""

    kind: Literal["collected"]
    task: str
    output: str


class TemplateBinding(_Model):
    """A Jinja template (``headwater.Template``), rendered once when the run is created
    with the run's context (``ds``, ``params``, ``run_id``, ``macros``...); the task gets
    the rendered text (docs/adr/0029-templated-task-arguments.md)."""

    kind: Literal["template"]
    template: str


class FinalStatusBinding(_Model):
    """The final status of the exit handler's body, given to its exit task."""

    kind: Literal["final_status"]


Binding = Annotated[
    ConstantBinding
    | PipelineInputBinding
    | TaskOutputBinding
    | LoopItemBinding
    | CollectedBinding
    | TemplateBinding
    | FinalStatusBinding,
    Field(discriminator="kind"),
]

ValueRef = Annotated[
    ConstantBinding | PipelineInputBinding | TaskOutputBinding | LoopItemBinding,
    Field(discriminator="kind"),
]

CompareOp = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not_in"]
LogicOp = Literal["and", "or", "not"]


class Comparison(_Model):
    """``left op right`` on parameter values; evaluated by the engine, never with eval()."""

    kind: Literal["compare"]
    op: CompareOp
    left: ValueRef
    right: ValueRef


class Logical(_Model):
    kind: Literal["logical"]
    op: LogicOp
    operands: list[Condition]


Condition = Annotated[Comparison | Logical, Field(discriminator="kind")]


# --------------------------------------------------------------------------- graph


class TaskSpec(_Model):
    """One call of a component inside a DAG."""

    kind: Literal["task"]
    name: str
    component: str
    inputs: dict[str, Binding] = {}
    after: list[str] = []
    options: TaskOptions = TaskOptions()
    source: SourceLocation | None = None


class ConditionBranch(_Model):
    """A branch of an If/Elif/Else chain; ``condition`` is ``None`` for Else."""

    condition: Condition | None
    nodes: list[Node] = []
    source: SourceLocation | None = None


class ConditionGroup(_Model):
    """Branches tried in order; the first whose condition holds runs, the rest are skipped."""

    kind: Literal["condition"]
    name: str
    branches: list[ConditionBranch]
    after: list[str] = []
    source: SourceLocation | None = None


class NamedList(_Model):
    """One list of a :class:`CombinedItems`, and the key its values get in each item."""

    name: str
    items: ValueRef


class CombinedItems(_Model):
    """A loop's items made at run time from several named lists, each item a dict keyed by
    the lists' names (``LoopItemBinding.key`` picks one).

    ``cross``: every combination, in ``itertools.product`` order (the last list varies
    fastest), as Airflow's ``expand`` over several arguments. ``zip``: the i-th value of
    each list, as many items as the shortest list has; with ``fill`` set, as many as the
    longest has, the shorter lists padded with ``fill.value`` (Python's ``zip`` and
    ``itertools.zip_longest``, Airflow's ``zip`` and its ``fillvalue``).
    """

    kind: Literal["cross", "zip"]
    lists: list[NamedList] = Field(min_length=1)
    fill: ConstantBinding | None = None

    @model_validator(mode="after")
    def _check(self) -> CombinedItems:
        names = [n.name for n in self.lists]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"the lists of {self.kind} items repeat the name(s) {twice}")
        if self.fill is not None and self.kind != "zip":
            raise ValueError("'fill' is only for zip items, not cross")
        return self

    def combine(self, values: list[list[Any]]) -> list[dict[str, Any]]:
        """The items these lists make, given each list's values (in ``lists`` order)."""
        rows: Any
        if self.kind == "cross":
            rows = itertools.product(*values)
        elif self.fill is not None:
            rows = itertools.zip_longest(*values, fillvalue=self.fill.value)
        else:
            rows = zip(*values, strict=False)
        names = [n.name for n in self.lists]
        return [dict(zip(names, row, strict=True)) for row in rows]


LoopItems = Annotated[
    ConstantBinding | PipelineInputBinding | TaskOutputBinding | LoopItemBinding | CombinedItems,
    Field(discriminator="kind"),
]


class ItemShape(_Model):
    """What every item of a loop must be (``expand_kwargs``): a dict holding each key of
    ``required`` and no key outside ``required`` and ``optional``; a missing optional key
    takes its value in ``optional`` (the component input's default)."""

    required: list[str] = []
    optional: dict[str, JsonValue] = {}


class LoopGroup(_Model):
    """``ParallelFor``: the body runs once per item, at most ``parallelism`` at once.

    ``max_items`` caps the items (without it the engine's ``HEADWATER_MAX_MAP_LENGTH``,
    default 1024): past it the loop fails before any iteration starts. ``mapped`` marks a
    loop compiled from ``component.expand(...)``: its body is that one task, and no items
    skip it (Airflow's zero-length map), where an empty ``ParallelFor`` succeeds.
    """

    kind: Literal["loop"]
    name: str
    items: LoopItems
    parallelism: int | None = Field(None, ge=1)
    max_items: int | None = Field(None, ge=1)
    item_shape: ItemShape | None = None
    mapped: bool = False
    nodes: list[Node] = []
    after: list[str] = []
    source: SourceLocation | None = None

    def item_refs(self) -> list[Any]:
        """The values the items are made of: one, or each list of combined items."""
        if isinstance(self.items, CombinedItems):
            return [n.items for n in self.items.lists]
        return [self.items]


class ExitHandlerGroup(_Model):
    """The body runs; then ``exit_task`` runs whatever happened, with the final status."""

    kind: Literal["exit_handler"]
    name: str
    exit_task: TaskSpec
    nodes: list[Node] = []
    after: list[str] = []
    source: SourceLocation | None = None


Node = Annotated[
    TaskSpec | ConditionGroup | LoopGroup | ExitHandlerGroup, Field(discriminator="kind")
]


class DagSpec(_Model):
    nodes: list[Node] = []


# --------------------------------------------------------------------------- components


class PythonImplementation(_Model):
    """A Python function, imported by the task process from ``module`` (file ``file``).

    ``code_digest`` covers the function and the same-module helpers it uses;
    ``returns`` says how the return value maps onto outputs: not at all, as the
    single output named ``output``, or field by field of a NamedTuple.
    """

    type: Literal["python"]
    module: str
    function: str
    file: str
    code_digest: str
    returns: Literal["none", "single", "named_tuple"] = "none"
    return_outputs: list[str] = []
    # A component brought in from elsewhere carries its module's source text: the task
    # process builds ``module`` from it instead of importing ``file``. ``protocol`` says
    # how the function is called: Headwater's, or a Kubeflow lightweight component's
    # (kfp.dsl annotations, Kubeflow's parameter value rules). ``image`` is the image such
    # a component was built for elsewhere; here it runs in the task's own environment.
    source: str | None = None
    protocol: Literal["headwater", "kfp"] = "headwater"
    image: str | None = None
    # An @sensor function: each call is one poke; a false (or None) answer means "not
    # yet", and the task waits deferred until its next poke.
    sensor: bool = False


class ImporterImplementation(_Model):
    """Brings an existing file or URL in as an artifact (input ``uri``, output ``artifact``)."""

    type: Literal["importer"]
    artifact_type: str
    metadata: dict[str, JsonValue] = {}
    reimport: bool = False


class ContainerImplementation(_Model):
    """A program run as a process on the task's machine (a Kubeflow container component).

    ``command`` and ``args`` may hold Kubeflow placeholders (``{{$.inputs.parameters['x']}}``
    and the like), filled in by the task process. ``image`` is the image the program was
    packaged in elsewhere: here the command must be found on the machine itself.
    """

    type: Literal["container"]
    image: str
    command: list[str] = []
    args: list[str] = []
    code_digest: str


class DagImplementation(_Model):
    """A pipeline used as a component: its DAG, and which task outputs are its outputs."""

    type: Literal["dag"]
    dag: DagSpec
    outputs: dict[str, TaskOutputBinding | CollectedBinding] = {}


class TuneImplementation(_Model):
    """A hyperparameter study as a step: each trial is a run of ``pipeline`` with the
    parameters Optuna suggests from ``space`` (the task's inputs fix the others), searching
    for the best final value of ``objective`` (``TASK.METRIC``). The engine drives it
    (docs/adr/0020); its outputs are the best trial's parameters, value and run, and the
    study's name.

    ``study`` prefixes the name of each study the step starts (one per run and attempt;
    by default the tuned pipeline's name). ``cache`` is the trials' caching.
    """

    type: Literal["tune"]
    pipeline: PipelineSpec
    space: dict[str, JsonValue]
    objective: str
    direction: Literal["maximize", "minimize"] = "maximize"
    sampler: str = "tpe"
    pruner: str = "none"
    trials: int = 20
    parallel: int = 1
    seed: int | None = None
    max_failed: int | None = None
    goal: float | None = None
    study: str | None = None
    cache: bool = True


class TriggerImplementation(_Model):
    """A built-in wait that the engine checks itself, on one event loop for all of a
    process's waits: no task process runs it (docs/sensors-and-events.md).

    ``check`` names what is waited for: ``path`` (a file or prefix on any fsspec URL),
    ``http`` (an endpoint answering as expected), ``sql`` (a query returning a truthy
    row), ``run`` (another pipeline's run, or one of its tasks, reaching a state),
    ``asset`` (a new event of an asset) or ``time`` (a moment reached). The task's
    inputs are the check's arguments.
    """

    type: Literal["trigger"]
    check: Literal["path", "http", "sql", "run", "asset", "time"]


Implementation = Annotated[
    PythonImplementation
    | ImporterImplementation
    | ContainerImplementation
    | DagImplementation
    | TuneImplementation
    | TriggerImplementation,
    Field(discriminator="type"),
]


class ComponentSpec(_Model):
    name: str
    description: str | None = None
    inputs: dict[str, IOSpec] = {}
    outputs: dict[str, IOSpec] = {}
    implementation: Implementation
    options: TaskOptions = TaskOptions()
    source: SourceLocation | None = None


# --------------------------------------------------------------------------- pipeline


class ScheduleSpec(_Model):
    """When runs are created: a cron expression (or preset), a fixed interval, once,
    or when assets are updated.

    An ``assets`` schedule creates a run once every asset in ``assets`` has been
    updated since the last run it created (``asset_mode="all"``), or once any of
    them has (``"any"``). The pipeline's ``start_date`` and ``catchup`` and the
    schedule's ``timezone`` do not apply to it.
    """

    kind: Literal["cron", "interval", "once", "assets"]
    cron: str | None = None
    interval_seconds: float | None = Field(None, gt=0)
    timezone: str = "UTC"
    assets: list[str] = []
    asset_mode: Literal["all", "any"] = "all"

    def describe(self) -> str:
        """In a few words: the cron, the interval, 'once', or the assets it waits for."""
        if self.kind == "assets":
            return (" & " if self.asset_mode == "all" else " | ").join(self.assets)
        if self.cron:
            return self.cron
        return f"every {self.interval_seconds:g}s" if self.interval_seconds else self.kind

    @model_validator(mode="after")
    def _check_kind(self) -> ScheduleSpec:
        if self.kind == "cron" and not self.cron:
            raise ValueError("a cron schedule needs 'cron'")
        if self.kind == "interval" and self.interval_seconds is None:
            raise ValueError("an interval schedule needs 'interval_seconds'")
        if self.kind == "assets":
            if not self.assets:
                raise ValueError("an assets schedule needs a non-empty 'assets' list")
            if self.cron is not None or self.interval_seconds is not None:
                raise ValueError("an assets schedule takes no 'cron' or 'interval_seconds'")
        else:
            if self.assets:
                raise ValueError(f"'assets' is only for assets schedules, not {self.kind}")
            if self.asset_mode != "all":
                raise ValueError(f"'asset_mode' is only for assets schedules, not {self.kind}")
        return self


class PipelineSpec(_Model):
    """A compiled pipeline. Its digest is the sha256 of its canonical JSON."""

    schema_version: Literal["headwater.pipeline/v1"]
    name: str
    description: str | None = None
    root: ComponentSpec
    components: dict[str, ComponentSpec] = {}
    artifact_types: dict[str, ArtifactTypeInfo] = {}
    schedule: ScheduleSpec | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    catchup: bool = False
    max_active_runs: int | None = Field(None, ge=1)
    max_active_tasks: int | None = Field(None, ge=1)
    deadline_seconds: float | None = Field(None, gt=0)
    tags: list[str] = []
    owner: str | None = None
    notifications: list[NotificationSpec] = []
    cache_enabled: bool = True
    task_defaults: TaskOptions = TaskOptions()
    source: SourceLocation | None = None

    @property
    def parameters(self) -> dict[str, IOSpec]:
        """The run parameters: the root component's inputs."""
        return self.root.inputs

    @property
    def dag(self) -> DagSpec:
        impl = self.root.implementation
        assert isinstance(impl, DagImplementation)
        return impl.dag

    def with_tuned(self) -> list[PipelineSpec]:
        """This spec, then the pipelines its tune steps tune (their code and environments
        belong to this pipeline's too)."""
        found = [self]
        for comp in self.components.values():
            if isinstance(comp.implementation, TuneImplementation):
                found.extend(comp.implementation.pipeline.with_tuned())
        return found


Logical.model_rebuild()
ConditionBranch.model_rebuild()
LoopGroup.model_rebuild()
ExitHandlerGroup.model_rebuild()
DagSpec.model_rebuild()
TuneImplementation.model_rebuild()
ComponentSpec.model_rebuild()
