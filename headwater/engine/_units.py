"""The run-time graph: scopes (the root, each loop iteration, branch, exit-handler body and
nested pipeline) holding units (task or group instances), and how values flow between them
(and how they are recorded in the store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from headwater.spec import (
    CollectedBinding,
    ConditionGroup,
    ConstantBinding,
    ExitHandlerGroup,
    LoopGroup,
    LoopItemBinding,
    PipelineInputBinding,
    TaskOutputBinding,
    TaskSpec,
    TemplateBinding,
)
from headwater.states import TASK_DONE, TASK_NOT_OK, TASK_SUCCESS, TaskStatus
from headwater.store import ArtifactRecord, MetadataStore, TaskRunRecord

T = TaskStatus


@dataclass(frozen=True)
class ArtifactValue:
    """An artifact as it flows between tasks."""

    id: str
    name: str
    type: str
    uri: str
    digest: str | None
    metadata: dict[str, Any] = field(default_factory=dict)


class Unavailable(Exception):
    """A value cannot be read: its producer did not succeed, or it was never produced."""


class Scope:
    def __init__(
        self,
        dag_key: str,
        parent: Scope | None,
        prefix: str,
        *,
        inputs: dict[str, Any] | None = None,
        loop: tuple[str, Any] | None = None,
        owner: Unit | None = None,
        templates: dict[str, str] | None = None,
    ) -> None:
        self.dag_key = dag_key
        self.parent = parent
        self.prefix = prefix
        self.inputs = inputs
        self.loop = loop
        self.owner = owner
        # The run's rendered task templates (on the run's root scope only).
        self.templates = templates
        self.units: dict[str, Unit] = {}

    @property
    def namespace_root(self) -> bool:
        return self.inputs is not None

    def lookup(self, name: str) -> Unit | None:
        s: Scope | None = self
        while s is not None:
            if name in s.units:
                return s.units[name]
            if s.namespace_root:
                return None
            s = s.parent
        return None

    def pipeline_input(self, name: str) -> Any:
        s: Scope | None = self
        while s is not None:
            if s.inputs is not None:
                if name not in s.inputs:
                    raise Unavailable(f"pipeline input '{name}' has no value")
                return s.inputs[name]
            s = s.parent
        raise Unavailable(f"pipeline input '{name}' has no value")

    def rendered(self, template: str) -> str:
        """What ``template`` rendered to when the run was created (the run's root holds it)."""
        s: Scope = self
        while s.parent is not None:
            s = s.parent
        if s.templates is None or template not in s.templates:
            raise Unavailable(
                f"the template {template[:200]!r} was not rendered when the run was created"
            )
        return s.templates[template]

    def loop_item(self, loop: str) -> Any:
        s: Scope | None = self
        while s is not None:
            if s.loop is not None and s.loop[0] == loop:
                return s.loop[1]
            if s.namespace_root:
                break
            s = s.parent
        raise Unavailable(f"no item of loop '{loop}' here")

    def all_units(self) -> list[Unit]:
        """Every unit in this scope and the scopes below it (same run), depth first."""
        out: list[Unit] = []
        for unit in self.units.values():
            out.append(unit)
            for child in unit.children:
                out.extend(child.all_units())
        return out


class Unit:
    """One instance of a DAG node: a task (one or more attempts) or a group."""

    def __init__(self, node: Any, scope: Scope, *, exit_of: Unit | None = None) -> None:
        self.node = node
        self.scope = scope
        self.name: str = node.name
        self.path: str = scope.prefix + node.name
        self.exit_of = exit_of
        self.status: TaskStatus | None = None
        self.opened = False
        self.children: list[Scope] = []
        # Tasks
        self.record: TaskRunRecord | None = None
        self.attempt = 0
        self.counted_failures = 0
        self.params: dict[str, Any] = {}
        self.artifacts: dict[str, Any] = {}
        self.retry_at: float | None = None
        self.inputs: dict[str, Any] = {}
        self.error: str | None = None
        self.deps: list[tuple[Unit, bool]] = []
        self.considered = False
        # Setup/teardown (a task's options): whether it is a setup, and whether its end
        # decides its scope's outcome (a teardown's does not, unless on_failure_fail_run).
        self.is_setup = False
        self.is_teardown = False
        self.counts = True
        self.cache_key: str | None = None
        self.resources: Any = None
        self.options: Any = None
        self.environment: Any = None  # the executors' Environment it runs in, if any
        # The current attempt's task input, until the attempt ends.
        self.task_input: dict[str, Any] | None = None
        # Loops
        self.items: list[Any] | None = None
        self.next_item = 0
        self.finished: set[int] = set()  # ids of iteration scopes that are done

    @property
    def is_task(self) -> bool:
        return isinstance(self.node, TaskSpec)

    @property
    def is_group(self) -> bool:
        return isinstance(self.node, ConditionGroup | LoopGroup | ExitHandlerGroup)

    def __repr__(self) -> str:
        return f"Unit({self.path}, {self.status})"

    def output(self, name: str) -> Any:
        if name in self.params:
            return self.params[name]
        if name in self.artifacts:
            return self.artifacts[name]
        raise Unavailable(f"task '{self.path}' has no output '{name}'")


def aggregate(states: list[TaskStatus]) -> TaskStatus:
    """The outcome of a group from the outcomes of what it holds (those that count)."""
    if any(s in TASK_NOT_OK for s in states):
        return T.FAILED
    if states and all(s is T.SKIPPED for s in states):
        return T.SKIPPED
    return T.SUCCEEDED


def state(unit: Unit) -> TaskStatus | None:
    """The final state of a unit, or None while it may still change."""
    if unit.status in TASK_DONE:
        return unit.status
    if not unit.is_group or not unit.opened:
        return None
    node = unit.node
    if isinstance(node, LoopGroup) and (unit.items is None or len(unit.finished) < len(unit.items)):
        return None
    states: list[TaskStatus] = []
    for scope in unit.children:
        outcome = scope_done(scope)
        if outcome is None:
            return None
        states.extend(_counted(scope))
    if isinstance(node, ConditionGroup) and not unit.children:
        return T.SKIPPED
    return aggregate(states)


def scope_done(scope: Scope) -> TaskStatus | None:
    """The outcome of ``scope`` once every unit in it has ended, else None.

    It waits for every unit, teardowns too, but a teardown's own end does not decide it
    (Airflow's: a run's state comes from its work, not its clean-up), unless the
    teardown says ``on_failure_fail_run``."""
    if any(state(unit) is None for unit in scope.units.values()):
        return None
    return aggregate(_counted(scope))


def _counted(scope: Scope) -> list[TaskStatus]:
    """The final states of the units of a finished ``scope`` whose ends decide it."""
    return [s for unit in scope.units.values() if unit.counts and (s := state(unit)) is not None]


def resolve(binding: Any, scope: Scope, unit_for_collect: Unit | None = None) -> Any:
    """The value of ``binding`` seen from ``scope``; raises Unavailable."""
    if isinstance(binding, ConstantBinding):
        return binding.value
    if isinstance(binding, PipelineInputBinding):
        return scope.pipeline_input(binding.name)
    if isinstance(binding, TemplateBinding):
        return scope.rendered(binding.template)
    if isinstance(binding, LoopItemBinding):
        item = scope.loop_item(binding.loop)
        if binding.key is None:
            return item
        if not isinstance(item, dict) or binding.key not in item:
            raise Unavailable(f"loop item {item!r} has no key '{binding.key}'")
        return item[binding.key]
    if isinstance(binding, TaskOutputBinding):
        producer = scope.lookup(binding.task)
        if producer is None:
            raise Unavailable(f"task '{binding.task}' did not run")
        if producer.status not in TASK_SUCCESS:
            raise Unavailable(
                f"task '{producer.path}' did not succeed ({producer.status or 'not run'})"
            )
        return producer.output(binding.output)
    if isinstance(binding, CollectedBinding):
        return collect(scope, binding.task, binding.output)
    raise Unavailable(f"cannot resolve {binding!r}")


def collect(scope: Scope, task: str, output: str) -> list[Any]:
    """Every iteration's value of ``task.output``, in item order, for Collected(...)."""
    values: list[Any] = []
    holder = _visible_holder(scope, task)
    if holder is None:
        raise Unavailable(f"task '{task}' did not run")
    for unit in _find(holder, task):
        if unit.status not in TASK_SUCCESS:
            raise Unavailable(f"task '{unit.path}' did not succeed ({unit.status or 'not run'})")
        values.append(unit.output(output))
    return values


def _visible_holder(scope: Scope, task: str) -> Unit | None:
    """The group unit visible from ``scope`` that (somewhere below) holds ``task``."""
    s: Scope | None = scope
    while s is not None:
        for unit in s.units.values():
            if unit.is_group and _contains(unit.node, task):
                return unit
        if s.namespace_root:
            break
        s = s.parent
    return None


def _contains(node: Any, name: str) -> bool:
    if isinstance(node, ConditionGroup):
        return any(_contains(n, name) for b in node.branches for n in b.nodes)
    if isinstance(node, LoopGroup):
        return any(_contains(n, name) for n in node.nodes)
    if isinstance(node, ExitHandlerGroup):
        return node.exit_task.name == name or any(_contains(n, name) for n in node.nodes)
    return bool(node.name == name)


def _find(unit: Unit, name: str) -> list[Unit]:
    found: list[Unit] = []
    for scope in unit.children:
        for child in scope.units.values():
            if child.name == name:
                found.append(child)
            elif child.is_group:
                found.extend(_find(child, name))
    return found


# ---------------------------------------------------------------------- values and records


def artifact_value(record: ArtifactRecord) -> ArtifactValue:
    return ArtifactValue(
        record.id, record.name, record.type, record.uri, record.digest, record.metadata
    )


def load_outputs(store: MetadataStore, unit: Unit, outputs: dict[str, Any]) -> None:
    """Give ``unit`` the outputs a task run recorded (parameters, and artifacts by id)."""
    unit.params = dict(outputs.get("parameters", {}))
    refs = outputs.get("artifacts", {})
    ids = [i for v in refs.values() for i in (v if isinstance(v, list) else [v])]
    records = store.lineage.artifacts_by_id(ids)
    for name, ref in refs.items():
        if isinstance(ref, list):
            unit.artifacts[name] = [artifact_value(records[i]) for i in ref]
        else:
            unit.artifacts[name] = artifact_value(records[ref])


def record_output(outputs: dict[str, Any], name: str, value: Any) -> None:
    """Put output ``name`` into ``outputs`` as runs and task runs record it: an artifact (or
    a list of them) by id under ``artifacts``, any other value under ``parameters``."""
    if isinstance(value, ArtifactValue):
        outputs["artifacts"][name] = value.id
    elif isinstance(value, list) and value and all(isinstance(v, ArtifactValue) for v in value):
        outputs["artifacts"][name] = [v.id for v in value]
    else:
        outputs["parameters"][name] = value


def jsonable(values: dict[str, Any]) -> dict[str, Any]:
    """Input values as a task run records them: an artifact by its id."""

    def one(v: Any) -> Any:
        if isinstance(v, ArtifactValue):
            return {"artifact": v.id}
        if isinstance(v, list):
            return [one(x) for x in v]
        return v

    return {k: one(v) for k, v in values.items()}


def artifact_links(values: dict[str, Any]) -> list[tuple[str, str]]:
    """``(input name, artifact id)`` for each artifact among input values (lineage)."""
    links = []
    for name, v in values.items():
        if isinstance(v, ArtifactValue):
            links.append((name, v.id))
        elif isinstance(v, list):
            links.extend((name, x.id) for x in v if isinstance(x, ArtifactValue))
    return links
