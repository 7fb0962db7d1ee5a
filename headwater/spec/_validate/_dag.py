"""Rules within one DAG: names, wiring, scopes, types and cycles."""

from __future__ import annotations

import graphlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from headwater.spec._models import (
    CollectedBinding,
    CombinedItems,
    Comparison,
    ComponentSpec,
    Condition,
    ConditionGroup,
    ConstantBinding,
    DagSpec,
    ExitHandlerGroup,
    FinalStatusBinding,
    IOSpec,
    Logical,
    LoopGroup,
    LoopItemBinding,
    Node,
    ParamType,
    PipelineInputBinding,
    PythonImplementation,
    SourceLocation,
    TaskOptions,
    TaskOutputBinding,
    TaskSpec,
    TemplateBinding,
    TriggerImplementation,
)
from headwater.spec._params import type_error
from headwater.spec._templates import template_problem
from headwater.spec._validate._checker import SpecChecker
from headwater.spec._validate._common import (
    BASE_ARTIFACT,
    NAME_RE,
    NodeInfo,
    Scope,
    Value,
    assignable,
    condition_tasks,
    infer_type,
    path_name,
    same_group,
    value_kind,
)


def literal_count(items: Any, lengths: list[int]) -> int:
    """How many items literal lists of these ``lengths`` make."""
    if not isinstance(items, CombinedItems):
        return lengths[0]
    if items.kind == "cross":
        return math.prod(lengths)
    return max(lengths) if items.fill is not None else min(lengths)


@dataclass
class DagChecker:
    top: SpecChecker
    comp: ComponentSpec
    dag: DagSpec
    pipeline: str
    nodes: dict[str, NodeInfo] = field(default_factory=dict)

    def add(self, message: str, *, task: str | None = None, **kw: Any) -> None:
        self.top.add(message, pipeline=self.pipeline, task=task, **kw)

    def run(self) -> None:
        self.collect(self.dag.nodes, ())
        for info in self.nodes.values():
            self.check_node(info)
        self.check_cycles()

    # ------------------------------------------------------------------ structure

    def collect(self, nodes: list[Node], scope: Scope) -> None:
        for node in nodes:
            self.register(NodeInfo(node, scope))
            if isinstance(node, ConditionGroup):
                if not node.branches:
                    self.add("condition group has no branches", task=node.name, source=node.source)
                for i, branch in enumerate(node.branches):
                    if branch.condition is None and i != len(node.branches) - 1:
                        self.add(
                            "Else must be the last branch of an If/Elif chain",
                            task=node.name,
                            source=branch.source or node.source,
                            code="misplaced_else",
                        )
                    self.collect(branch.nodes, (*scope, ("condition", node.name, i)))
            elif isinstance(node, LoopGroup):
                self.collect(node.nodes, (*scope, ("loop", node.name, -1)))
            elif isinstance(node, ExitHandlerGroup):
                self.register(NodeInfo(node.exit_task, scope, is_exit_task=True))
                self.collect(node.nodes, (*scope, ("exit_handler", node.name, -1)))

    def register(self, info: NodeInfo) -> None:
        name = info.node.name
        if not NAME_RE.match(name):
            self.add(
                f"invalid task name '{name}'",
                task=name,
                source=info.node.source,
                hint="use letters, digits, '_', '-' and '.', starting with a letter or '_' "
                "(at most 128 characters)",
                code="invalid_name",
            )
        if name in self.nodes:
            self.add(
                f"two tasks or groups are named '{name}'",
                task=name,
                source=info.node.source,
                hint="give one of them another name",
                code="duplicate_name",
            )
            return
        self.nodes[name] = info

    # ------------------------------------------------------------------ nodes

    def check_node(self, info: NodeInfo) -> None:
        node = info.node
        for dep in node.after:
            if dep not in self.nodes:
                self.add(
                    f"'{node.name}' runs after unknown task '{dep}'",
                    task=node.name,
                    source=node.source,
                    code="unknown_task",
                )
        if isinstance(node, TaskSpec):
            self.check_task(node, info)
        elif isinstance(node, ConditionGroup):
            for branch in node.branches:
                if branch.condition is not None:
                    self.check_condition(branch.condition, node, info.scope)
        elif isinstance(node, LoopGroup):
            self.check_loop(node, info.scope)
        elif isinstance(node, ExitHandlerGroup) and not node.nodes:
            self.add(
                "ExitHandler has an empty body",
                task=node.name,
                source=node.source,
                hint="create the tasks to guard inside 'with ExitHandler(...):'",
            )

    def check_task(self, task: TaskSpec, info: NodeInfo) -> None:
        src = task.source
        comp = self.top.component(task.component)
        self.top.check_options(task.options, task.name, src, pipeline=self.pipeline)
        if comp is None:
            self.add(
                f"task uses unknown component '{task.component}'",
                task=task.name,
                source=src,
                code="unknown_component",
            )
            return
        self.check_setup_teardown(task, comp, info)
        self.top.check_asset_outputs(
            task.options, comp, pipeline=self.pipeline, task=task.name, source=src
        )
        self.top.check_register_outputs(
            task.options, comp, pipeline=self.pipeline, task=task.name, source=src
        )
        self.check_sensor(task, comp)
        for name, binding in task.inputs.items():
            io = comp.inputs.get(name)
            if io is None:
                known = ", ".join(comp.inputs) or "none"
                self.add(
                    f"component '{comp.name}' has no input '{name}' (its inputs: {known})",
                    task=task.name,
                    source=src,
                    code="unknown_input",
                )
                continue
            if isinstance(binding, FinalStatusBinding):
                if not info.is_exit_task:
                    self.add(
                        f"input '{name}' takes the final status, which only an ExitHandler's "
                        "exit task receives",
                        task=task.name,
                        source=src,
                        hint="use this component as the task of 'with ExitHandler(task):'",
                        code="misplaced_final_status",
                    )
                if io.kind != "final_status":
                    self.add(
                        f"input '{name}' is a {io.describe()}, not a FinalStatus",
                        task=task.name,
                        source=src,
                        code="type_mismatch",
                    )
                continue
            if io.kind == "final_status":
                self.add(
                    f"input '{name}' is a FinalStatus and is filled in by the exit handler",
                    task=task.name,
                    source=src,
                    hint=f"do not pass '{name}'",
                    code="type_mismatch",
                )
                continue
            if isinstance(binding, TemplateBinding):
                self.check_template(binding, io, task, name)
                continue
            value = self.binding_value(binding, info.scope, task.name, src, name)
            if value is not None:
                self.check_assignable(value, io, task, name)
        for name, io in comp.inputs.items():
            if name in task.inputs or io.has_default:
                continue
            if io.kind == "final_status" and info.is_exit_task:
                self.add(
                    f"exit task input '{name}' is not bound to the final status",
                    task=task.name,
                    source=src,
                )
                continue
            self.add(
                f"missing required input '{name}' ({io.describe()}) of component '{comp.name}'",
                task=task.name,
                source=src,
                hint=f"pass {name}=... when calling {comp.name}(...), or give it a default",
                code="missing_input",
            )

    def check_sensor(self, task: TaskSpec, comp: ComponentSpec) -> None:
        """A sensor's policy belongs on sensors only; a sensor's poke has no timeout of
        its own beyond the wait's, and a sensor is never cached (it asks the world)."""
        impl = comp.implementation
        is_sensor = isinstance(impl, TriggerImplementation) or (
            isinstance(impl, PythonImplementation) and impl.sensor
        )
        options = comp.options.overlay(task.options)
        if options.sensor is not None and not is_sensor:
            self.add(
                f"poke_interval, wait_timeout, soft_fail, exponential_backoff and "
                f"max_poke_interval apply to sensors; component '{comp.name}' is not one",
                task=task.name,
                source=task.source,
                hint="make it a sensor with @sensor (each call a check that returns bool), "
                "or drop those options",
                code="not_a_sensor",
            )
        if is_sensor and options.cache is not None and options.cache.enabled:
            self.add(
                f"sensor '{comp.name}' cannot be cached: it checks something outside the "
                "pipeline each time",
                task=task.name,
                source=task.source,
                hint="drop cache=True",
                code="cached_sensor",
            )

    def options(self, task: TaskSpec, comp: ComponentSpec) -> TaskOptions:
        """The task's options as the engine reads them: its three layers overlaid."""
        return self.top.spec.task_defaults.overlay(comp.options).overlay(task.options)

    def check_setup_teardown(self, task: TaskSpec, comp: ComponentSpec, info: NodeInfo) -> None:
        """Airflow's setup/teardown rules, on the options the task ends up with."""
        opts = self.options(task, comp)
        src = task.source
        if opts.setup and opts.teardown:
            self.add(
                "task is both a setup and a teardown",
                task=task.name,
                source=src,
                hint="make one task the setup (setup=True) and another its teardown "
                "(teardown=True, after the setup); check the component's options too",
                code="setup_teardown",
            )
            return
        if opts.on_failure_fail_run is not None and not opts.teardown:
            self.add(
                "on_failure_fail_run is set on a task that is not a teardown",
                task=task.name,
                source=src,
                hint="set teardown=True with it (e.g. .as_teardown(setups=..., "
                "on_failure_fail_run=True)), or drop it: any other task's failure fails "
                "the run already",
                code="setup_teardown",
            )
        if (opts.setup or opts.teardown) and info.is_exit_task:
            self.add(
                "an ExitHandler's exit task cannot be a setup or a teardown",
                task=task.name,
                source=src,
                hint="the exit task already runs however its body ends; drop setup/teardown "
                "from it, or make a task inside the body the teardown",
                code="setup_teardown",
            )
        rule = opts.trigger_rule
        if (
            not opts.teardown
            and rule not in (None, "all_success")
            and self.has_setup_upstream(info)
        ):
            self.add(
                f"task runs right after a setup but has trigger rule '{rule}'; a task right "
                "after a setup must use all_success (Airflow's rule: it works on what the "
                "setup made, so it runs only when the setup succeeded)",
                task=task.name,
                source=src,
                hint="drop its trigger rule, or make it the setup's teardown with "
                ".as_teardown(setups=...)",
                code="setup_teardown",
            )
        if opts.teardown and rule is None and not self.has_setup_upstream(info):
            self.add(
                "teardown has no setup task upstream, so its trigger rule "
                "(all_done_setup_success) has no setup to wait for",
                task=task.name,
                source=src,
                hint="name its setups with .as_teardown(setups=the_setup_task) (a setup is "
                "a task with setup=True that it runs after), or give it a trigger_rule such "
                "as 'all_done'",
                code="setup_teardown",
            )

    def has_setup_upstream(self, info: NodeInfo) -> bool:
        """Whether a task the node waits for directly (.after or data) is a setup."""
        for name in self.dependencies(info):
            upstream = self.nodes.get(name)
            if upstream is None or not isinstance(upstream.node, TaskSpec):
                continue
            comp = self.top.component(upstream.node.component)
            if comp is not None and self.options(upstream.node, comp).setup:
                return True
        return False

    def check_template(
        self, binding: TemplateBinding, io: IOSpec, task: TaskSpec, name: str
    ) -> None:
        """A template renders to text: it must parse, and feed a ``str`` (or untyped) input."""
        problem = template_problem(binding.template)
        if problem is not None:
            self.add(
                f"input '{name}' gets the template {binding.template[:200]!r}, which does not "
                f"parse: {problem}",
                task=task.name,
                source=task.source,
                hint="fix the Jinja syntax ('{{ ds }}', '{{ params.name }}', "
                "'{% if ... %}...{% endif %}'); to pass the text as it is, pass a plain str "
                "instead of headwater.Template(...)",
                code="bad_template",
            )
        kind = io.type.kind if io.kind == "parameter" and io.type is not None else None
        if kind not in ("str", "any"):
            self.add(
                f"input '{name}' is a {io.describe()} but gets a template, which renders to "
                "text (str)",
                task=task.name,
                source=task.source,
                hint="give the component a str input and convert the text there, or template "
                "a pipeline parameter of that type (its template's result is converted)",
                code="type_mismatch",
            )

    def check_condition(self, cond: Condition, group: ConditionGroup, scope: Scope) -> None:
        if isinstance(cond, Logical):
            if cond.op == "not" and len(cond.operands) != 1:
                self.add("'not' takes exactly one operand", task=group.name, source=group.source)
            if cond.op != "not" and len(cond.operands) < 2:
                self.add(
                    f"'{cond.op}' takes at least two operands", task=group.name, source=group.source
                )
            for sub in cond.operands:
                self.check_condition(sub, group, scope)
            return
        assert isinstance(cond, Comparison)
        values = [
            self.binding_value(side, scope, group.name, group.source, f"condition {cond.op}")
            for side in (cond.left, cond.right)
        ]
        for v in values:
            if v is not None and v.io is not None and v.io.kind != "parameter":
                self.add(
                    f"a condition compares a {v.io.describe()}; conditions work on "
                    "parameter values only",
                    task=group.name,
                    source=group.source,
                    hint="compare a parameter output, e.g. a metric a task returns",
                    code="type_mismatch",
                )
                return
        if cond.op in ("<", "<=", ">", ">="):
            kinds = {value_kind(v) for v in values if v is not None}
            kinds.discard("any")
            if kinds - {"int", "float"} and kinds != {"str"}:
                self.add(
                    f"condition orders values of types {' and '.join(sorted(kinds))} with "
                    f"'{cond.op}'",
                    task=group.name,
                    source=group.source,
                    hint="compare numbers with numbers, or strings with strings",
                    code="type_mismatch",
                )
        if cond.op in ("in", "not_in"):
            right = values[1]
            if right is not None and value_kind(right) not in ("list", "dict", "str", "any"):
                self.add(
                    f"'{cond.op}' needs a list, dict or str on its right",
                    task=group.name,
                    source=group.source,
                    code="type_mismatch",
                )

    def check_loop(self, loop: LoopGroup, scope: Scope) -> None:
        what = "mapped task" if loop.mapped else "ParallelFor"
        items = loop.items
        lengths: list[int] | None = []
        if isinstance(items, CombinedItems):
            for named in items.lists:
                if not NAME_RE.match(named.name):
                    self.add(
                        f"{what} list name '{named.name}' is not a valid key",
                        task=loop.name,
                        source=loop.source,
                        hint="name each list like an argument: letters, digits and '_'",
                        code="invalid_name",
                    )
                n = self.check_loop_list(loop, named.items, scope, f"list '{named.name}'")
                lengths = None if n is None or lengths is None else [*lengths, n]
        else:
            n = self.check_loop_list(loop, items, scope, "items")
            lengths = None if n is None else [n]
        if loop.mapped:
            tasks = [n for n in loop.nodes if isinstance(n, TaskSpec)]
            if len(loop.nodes) != 1 or len(tasks) != 1:
                self.add(
                    f"mapped loop '{loop.name}' must hold exactly one task, not "
                    f"{len(loop.nodes)} node(s)",
                    task=loop.name,
                    source=loop.source,
                    hint="use a ParallelFor (mapped: false) for a body of several tasks",
                )
        count = None if lengths is None else literal_count(items, lengths)
        if count is not None and loop.max_items is not None and count > loop.max_items:
            self.add(
                f"{what} '{loop.name}' has {count} literal items, over its max_items of "
                f"{loop.max_items}",
                task=loop.name,
                source=loop.source,
                hint="raise max_items, or loop over fewer items",
                code="too_many_items",
            )

    def check_loop_list(self, loop: LoopGroup, binding: Any, scope: Scope, what: str) -> int | None:
        """Check one list a loop's items come from; its length when it is a literal."""
        label = "mapped task" if loop.mapped else "ParallelFor"
        value = self.binding_value(binding, scope, loop.name, loop.source, what)
        if value is None:
            return None
        if value.is_constant:
            if not isinstance(value.constant, list):
                self.add(
                    f"{label} {what} must be a list, not {type(value.constant).__name__}",
                    task=loop.name,
                    source=loop.source,
                    code="type_mismatch",
                )
                return None
            return len(value.constant)
        kind = value_kind(value)
        if kind not in ("list", "any"):
            self.add(
                f"{label} {what} must be a list, but this value is "
                + (value.io.describe() if value.io else kind),
                task=loop.name,
                source=loop.source,
                hint="loop over a list parameter, a task output typed list[...], or a literal list",
                code="type_mismatch",
            )
        return None

    # ------------------------------------------------------------------ values and scope

    def loop_item_type(self, loop: LoopGroup, key: str | None) -> IOSpec:
        any_type = IOSpec(kind="parameter", type=ParamType(kind="any"))
        info = self.nodes.get(loop.name)
        if info is None:
            return any_type
        items = loop.items
        if isinstance(items, CombinedItems):
            named = next((n for n in items.lists if n.name == key), None)
            if named is None:
                return any_type
            items, key = named.items, None
        value = self.binding_value(items, info.scope, loop.name, loop.source, None)
        item: ParamType | None = None
        if value is not None and value.is_constant and isinstance(value.constant, list):
            item = infer_type(value.constant)
        elif value is not None and value.io is not None and value.io.type is not None:
            item = value.io.type.items
        if item is None:
            return any_type
        if key is not None:
            if item.kind == "dict" and item.values is not None:
                return IOSpec(kind="parameter", type=item.values)
            return any_type
        return IOSpec(kind="parameter", type=item)

    def binding_value(
        self,
        binding: Any,
        scope: Scope,
        consumer: str,
        source: SourceLocation | None,
        input_name: str | None,
    ) -> Value | None:
        """What ``binding`` delivers at ``scope``; reports and returns None if unusable.

        ``input_name`` None means "quiet": report nothing (already reported elsewhere).
        """
        quiet = input_name is None
        if isinstance(binding, ConstantBinding):
            return Value(None, binding.value, True)
        if isinstance(binding, PipelineInputBinding):
            io = self.comp.inputs.get(binding.name)
            if io is None:
                if not quiet:
                    self.add(
                        f"input '{input_name}' reads unknown pipeline parameter '{binding.name}'",
                        task=consumer,
                        source=source,
                        code="unknown_input",
                    )
                return None
            return Value(io)
        if isinstance(binding, LoopItemBinding):
            loop = self.nodes.get(binding.loop)
            if loop is None or not isinstance(loop.node, LoopGroup):
                if not quiet:
                    self.add(
                        f"input '{input_name}' reads the item of unknown loop '{binding.loop}'",
                        task=consumer,
                        source=source,
                        code="unknown_task",
                    )
                return None
            if ("loop", binding.loop, -1) not in scope:
                if not quiet:
                    self.add(
                        f"input '{input_name}' uses the item of ParallelFor '{binding.loop}' "
                        "outside that loop",
                        task=consumer,
                        source=source,
                        hint="use the loop item only inside 'with ParallelFor(...) as item:'",
                        code="scope",
                    )
                return None
            return Value(self.loop_item_type(loop.node, binding.key))
        if isinstance(binding, TaskOutputBinding | CollectedBinding):
            producer = self.nodes.get(binding.task)
            if producer is None or not isinstance(producer.node, TaskSpec):
                if not quiet:
                    self.add(
                        f"input '{input_name}' reads from unknown task '{binding.task}'",
                        task=consumer,
                        source=source,
                        code="unknown_task",
                    )
                return None
            comp = self.top.component(producer.node.component)
            if comp is None:
                return None
            io = comp.outputs.get(binding.output)
            if io is None:
                if not quiet:
                    known = ", ".join(comp.outputs) or "none"
                    self.add(
                        f"input '{input_name}' reads unknown output '{binding.output}' of task "
                        f"'{binding.task}' (its outputs: {known})",
                        task=consumer,
                        source=source,
                        code="unknown_output",
                    )
                return None
            if not quiet and not self.check_binding_scope(
                binding, scope, consumer, source, input_name
            ):
                return None
            if isinstance(binding, CollectedBinding):
                if io.kind == "artifact":
                    io = io.model_copy(update={"is_list": True})
                elif io.type is not None:
                    io = IOSpec(kind="parameter", type=ParamType(kind="list", items=io.type))
            return Value(io)
        if isinstance(binding, FinalStatusBinding):
            return Value(IOSpec(kind="final_status"))
        return None

    def check_binding_scope(
        self,
        binding: TaskOutputBinding | CollectedBinding,
        scope: Scope,
        consumer: str,
        source: SourceLocation | None,
        input_name: str | None,
    ) -> bool:
        producer = self.nodes[binding.task]
        pscope = producer.scope
        common = 0
        while common < min(len(pscope), len(scope)) and pscope[common] == scope[common]:
            common += 1
        beyond = pscope[common:]
        ref = f"{binding.task}.{binding.output}"
        conds = [e for e in beyond if e[0] == "condition"]
        loops = [e for e in beyond if e[0] == "loop"]
        if conds:
            self.add(
                f"input '{input_name}' uses '{ref}', which is produced inside condition "
                f"'{conds[0][1]}' and may not exist here",
                task=consumer,
                source=source,
                hint="use the output inside the same If/Elif/Else branch that produces it",
                code="scope",
            )
            return False
        if isinstance(binding, CollectedBinding):
            if not loops:
                in_loop = any(e[0] == "loop" for e in pscope)
                self.add(
                    f"Collected({ref}) is used inside the ParallelFor that produces it"
                    if in_loop
                    else f"Collected({ref}) is used on a task that is in no ParallelFor",
                    task=consumer,
                    source=source,
                    hint="use Collected(task.output) after the 'with ParallelFor(...)' block, on "
                    "a task created inside it; inside the loop use task.output directly",
                    code="collected_scope",
                )
                return False
            if len(loops) > 1:
                self.add(
                    f"Collected('{ref}') crosses {len(loops)} nested ParallelFor loops; "
                    "it fans in one loop at a time",
                    task=consumer,
                    source=source,
                    hint="collect inside the outer loop first, then collect that result",
                    code="collected_scope",
                )
                return False
            return True
        if loops:
            self.add(
                f"input '{input_name}' uses '{ref}', which is produced once per iteration of "
                f"ParallelFor '{loops[0][1]}'",
                task=consumer,
                source=source,
                hint=f"fan the values in with Collected({binding.task}.outputs"
                f"['{binding.output}'])",
                code="scope",
            )
            return False
        return True

    def check_assignable(self, value: Value, io: IOSpec, task: TaskSpec, name: str) -> None:
        src = task.source
        if value.is_constant:
            if io.kind == "artifact":
                self.add(
                    f"input '{name}' is a {io.describe()} artifact but gets the constant "
                    f"{value.constant!r}",
                    task=task.name,
                    source=src,
                    hint="pass an artifact output of an upstream task, or bring a file in "
                    "with headwater.importer(uri, ArtifactType)",
                    code="type_mismatch",
                )
                return
            if io.type is not None:
                err = type_error(value.constant, io.type, f"input '{name}'")
                if err:
                    self.add(
                        err,
                        task=task.name,
                        source=src,
                        hint=f"pass a value of type {io.type.describe()}",
                        code="type_mismatch",
                    )
            return
        src_io = value.io
        if src_io is None:
            return
        msg = self.incompatibility(src_io, io)
        if msg:
            self.add(
                f"input '{name}' expects {io.describe()} but is given {src_io.describe()}: {msg}",
                task=task.name,
                source=src,
                hint="wire an output of the matching type, or change the input's annotation",
                code="type_mismatch",
            )

    def incompatibility(self, src: IOSpec, dst: IOSpec) -> str | None:
        if src.kind != dst.kind:
            return f"a {src.kind} cannot feed a {dst.kind} input"
        if src.kind == "artifact":
            if src.is_list != dst.is_list:
                return "a list of artifacts and a single artifact do not mix"
            wanted = dst.artifact_type or BASE_ARTIFACT
            if wanted == BASE_ARTIFACT or wanted in self.top.ancestors(src.artifact_type or ""):
                return None
            return f"{src.artifact_type} is not a {wanted}"
        if src.type is not None and dst.type is not None and not assignable(src.type, dst.type):
            return "the types do not match"
        return None

    # ------------------------------------------------------------------ cycles

    def dependencies(self, info: NodeInfo) -> Iterator[str]:
        node = info.node
        yield from node.after
        if isinstance(node, TaskSpec):
            for b in node.inputs.values():
                if isinstance(b, TaskOutputBinding | CollectedBinding):
                    yield b.task
        elif isinstance(node, ConditionGroup):
            for branch in node.branches:
                if branch.condition is not None:
                    yield from condition_tasks(branch.condition)
        elif isinstance(node, LoopGroup):
            for ref in node.item_refs():
                if isinstance(ref, TaskOutputBinding):
                    yield ref.task

    def check_cycles(self) -> None:
        graphs: dict[tuple[tuple[str, str, int], ...], dict[str, set[str]]] = {}
        for info in self.nodes.values():
            cpath = info.path
            for dep in self.dependencies(info):
                target = self.nodes.get(dep)
                if target is None:
                    continue
                tpath = target.path
                i = 0
                while i < min(len(cpath), len(tpath)) and cpath[i] == tpath[i]:
                    i += 1
                if i == len(tpath) or same_group(cpath, tpath, i):
                    what = "itself" if dep == info.node.name else f"its enclosing group '{dep}'"
                    self.add(
                        f"'{info.node.name}' depends on {what}",
                        task=info.node.name,
                        source=info.node.source,
                        hint="a task cannot wait for itself or for the group it is inside",
                        code="cycle",
                    )
                    continue
                if i == len(cpath) or same_group(tpath, cpath, i):
                    self.add(
                        f"group '{info.node.name}' depends on '{dep}', which is inside it",
                        task=info.node.name,
                        source=info.node.source,
                        hint="a group cannot wait for its own tasks; make the task that waits "
                        "sit after the group instead",
                        code="cycle",
                    )
                    continue
                if (
                    i < len(cpath)
                    and i < len(tpath)
                    and cpath[i][0] == tpath[i][0] == "condition"
                    and cpath[i][1] == tpath[i][1]
                ):
                    self.add(
                        f"'{info.node.name}' waits for '{dep}', which is in another branch of "
                        f"condition '{cpath[i][1]}'",
                        task=info.node.name,
                        source=info.node.source,
                        hint="only one branch of an If/Elif/Else chain runs",
                        code="scope",
                    )
                    continue
                graph = graphs.setdefault(cpath[:i], {})
                graph.setdefault(path_name(cpath[i]), set()).add(path_name(tpath[i]))
        for graph in graphs.values():
            try:
                graphlib.TopologicalSorter(graph).prepare()
            except graphlib.CycleError as exc:
                cycle = list(exc.args[1])
                first = self.nodes.get(cycle[0])
                self.add(
                    "tasks form a cycle: " + " -> ".join(reversed(cycle)),
                    task=cycle[0],
                    source=first.node.source if first else None,
                    hint="remove one of the .after(...) calls or data dependencies in the cycle",
                    code="cycle",
                )
