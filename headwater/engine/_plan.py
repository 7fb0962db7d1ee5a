"""Static facts about a spec's DAGs that the engine needs at run time (and each task's
options, from the spec's three layers of them).

For every node of every DAG (the root and each pipeline used as a component),
its direct dependencies expressed as the name of the unit that is visible from
the node: the dependency itself when it sits in the node's scope or an
enclosing one, otherwise the outermost group around it that is a sibling of
one of the node's enclosing scopes (a task after ``Collected(...)`` waits for
the whole loop).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from headwater.spec import (
    CollectedBinding,
    Comparison,
    ComponentSpec,
    Condition,
    ConditionGroup,
    DagImplementation,
    DagSpec,
    ExitHandlerGroup,
    Logical,
    LoopGroup,
    Node,
    PipelineSpec,
    TaskOptions,
    TaskOutputBinding,
    TaskSpec,
)

Path = tuple[tuple[str, str, int], ...]


@dataclass(frozen=True)
class Dep:
    name: str
    data: bool


@dataclass
class DagPlan:
    """The dependencies of every node of one DAG, by node name."""

    deps: dict[str, list[Dep]] = field(default_factory=dict)


def _condition_tasks(cond: Condition) -> Iterator[str]:
    if isinstance(cond, Logical):
        for sub in cond.operands:
            yield from _condition_tasks(sub)
        return
    assert isinstance(cond, Comparison)
    for side in (cond.left, cond.right):
        if isinstance(side, TaskOutputBinding):
            yield side.task


def _direct(node: Node | TaskSpec) -> Iterator[tuple[str, bool]]:
    for name in node.after:
        yield name, False
    if isinstance(node, TaskSpec):
        for b in node.inputs.values():
            if isinstance(b, TaskOutputBinding | CollectedBinding):
                yield b.task, True
    elif isinstance(node, ConditionGroup):
        for branch in node.branches:
            if branch.condition is not None:
                for t in _condition_tasks(branch.condition):
                    yield t, True
    elif isinstance(node, LoopGroup):
        for ref in node.item_refs():
            if isinstance(ref, TaskOutputBinding):
                yield ref.task, True


def spec_tasks(spec: PipelineSpec) -> Iterator[TaskSpec]:
    """Every task of ``spec``: of its root DAG and of each pipeline used as a step."""
    for _, task in pipeline_tasks(spec):
        yield task


def pipeline_tasks(spec: PipelineSpec) -> Iterator[tuple[str, TaskSpec]]:
    """Every task of ``spec`` with the name of the pipeline whose DAG holds it: ``spec``'s
    own, or a pipeline used as a step."""

    def walk(nodes: list[Node]) -> Iterator[TaskSpec]:
        for node in nodes:
            if isinstance(node, TaskSpec):
                yield node
            elif isinstance(node, ConditionGroup):
                for branch in node.branches:
                    yield from walk(branch.nodes)
            elif isinstance(node, ExitHandlerGroup):
                yield from walk([*node.nodes, node.exit_task])
            elif isinstance(node, LoopGroup):
                yield from walk(node.nodes)

    for task in walk(spec.dag.nodes):
        yield spec.name, task
    for comp in spec.components.values():
        if isinstance(comp.implementation, DagImplementation):
            for task in walk(comp.implementation.dag.nodes):
                yield comp.name, task


def plan_dag(dag: DagSpec) -> DagPlan:
    paths: dict[str, Path] = {}
    nodes: dict[str, Node | TaskSpec] = {}

    def walk(items: list[Node], scope: Path) -> None:
        for node in items:
            paths[node.name] = (*scope, ("node", node.name, -1))
            nodes[node.name] = node
            if isinstance(node, ConditionGroup):
                for i, branch in enumerate(node.branches):
                    walk(branch.nodes, (*scope, ("group", node.name, i)))
            elif isinstance(node, LoopGroup):
                walk(node.nodes, (*scope, ("group", node.name, -1)))
            elif isinstance(node, ExitHandlerGroup):
                # The exit task lives in the group's scope, beside the body.
                paths[node.exit_task.name] = (
                    *scope,
                    ("group", node.name, -2),
                    ("node", node.exit_task.name, -1),
                )
                nodes[node.exit_task.name] = node.exit_task
                walk(node.nodes, (*scope, ("group", node.name, -1)))

    walk(dag.nodes, ())
    plan = DagPlan()
    for name, node in nodes.items():
        cpath = paths[name]
        deps: dict[str, bool] = {}
        for target, data in _direct(node):
            tpath = paths.get(target)
            if tpath is None:
                continue
            i = 0
            while i < min(len(cpath), len(tpath)) and cpath[i] == tpath[i]:
                i += 1
            if i >= len(tpath):
                continue
            visible = tpath[i][1]
            deps[visible] = deps.get(visible, False) or data
        plan.deps[name] = [Dep(n, d) for n, d in deps.items()]
    return plan


class SpecPlan:
    """Plans for the root DAG and every DAG component, and each task's options, computed
    once per run."""

    def __init__(self, spec: PipelineSpec) -> None:
        self.spec = spec
        self.dags: dict[str, DagPlan] = {"": plan_dag(spec.dag)}
        for key, comp in spec.components.items():
            if isinstance(comp.implementation, DagImplementation):
                self.dags[key] = plan_dag(comp.implementation.dag)
        self._options: dict[tuple[str, str], TaskOptions] = {}
        # Whether any task is a setup: only then is Airflow's setup constraint asked.
        self.has_setups = any(self.options(task).setup for _, task in pipeline_tasks(spec))

    def component(self, task: TaskSpec) -> ComponentSpec:
        return self.spec.components[task.component]

    def options(self, task: TaskSpec) -> TaskOptions:
        """The task's options: the pipeline's task defaults, overlaid by its component's
        options, overlaid by its own."""
        key = (task.component, task.name)
        options = self._options.get(key)
        if options is None:
            comp = self.component(task)
            options = self.spec.task_defaults.overlay(comp.options).overlay(task.options)
            self._options[key] = options
        return options
