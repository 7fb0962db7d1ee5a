"""Headwater DAGs as Kubeflow IR DAGs: tasks, control flow, and the values between them.

Each Headwater group becomes a DAG component of its own, called by one task of the DAG
around it, as the kfp compiler lays them out:

- an ``If`` with one branch is a task whose ``triggerPolicy.condition`` (CEL) guards
  its DAG; ``If``/``Elif``/``Else`` is a task over a DAG of one such task per branch,
  each condition negating the ones before it;
- a ``ParallelFor`` is a task with a ``parameterIterator`` (items raw, or an input of
  the loop's DAG) and an ``iteratorPolicy`` for its parallelism; ``Collected`` reads an
  output the loop's DAG declares as a list;
- an ``ExitHandler`` is a task over a DAG of its body, and beside it the exit task with
  ``triggerPolicy.strategy: ALL_UPSTREAM_TASKS_COMPLETED`` and a ``taskFinalStatus``
  input.

How values reach the tasks that use them is :mod:`._kfp_values`'s job. Dependencies are
between siblings of one DAG: a task that waits for something inside a group waits for
the group (and for an ExitHandler, for its exit task too).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from headwater.interop._kfp_ir import (
    Findings,
    PipelineOutput,
    Scope,
    ScopeKind,
    User,
    add_definition,
    add_dependency,
    cel_literal,
    constant_item_type,
    io_definition,
    item_type,
    new_dag_component,
    output_key,
    selector,
    set_input,
)
from headwater.interop._kfp_values import DagIndex
from headwater.spec import (
    Binding,
    CombinedItems,
    Comparison,
    ComponentSpec,
    Condition,
    ConditionGroup,
    ConstantBinding,
    DagImplementation,
    ExitHandlerGroup,
    FinalStatusBinding,
    IOSpec,
    Logical,
    LoopGroup,
    LoopItemBinding,
    Node,
    TaskSpec,
    TemplateBinding,
    TriggerRule,
)


class DagBuilder:
    """Builds the IR of one Headwater DAG (the pipeline's, or a pipeline used as a step)."""

    def __init__(
        self,
        comp: ComponentSpec,
        ir_comp: dict[str, Any],
        *,
        pipeline: str,
        findings: Findings,
        components: dict[str, ComponentSpec],
        new_key: Callable[[str], str],
        add_component: Callable[[str, dict[str, Any]], None],
        task_ir: Callable[[TaskSpec, Scope, DagBuilder], dict[str, Any]],
        rule_of: Callable[[TaskSpec], TriggerRule | None],
    ) -> None:
        impl = comp.implementation
        assert isinstance(impl, DagImplementation)
        self.spec = comp
        self.impl = impl
        self.pipeline = pipeline
        self.findings = findings
        self.components = components
        self.new_key = new_key
        self.add_component = add_component
        self.task_ir = task_ir
        self.rule_of = rule_of
        self.index = DagIndex(comp, Scope("pipeline", ir_comp), findings, components)

    # ------------------------------------------------------------------ layout

    def build(self) -> None:
        self._layout(self.impl.dag.nodes, self.index.root)
        self._fill(self.impl.dag.nodes, self.index.root)
        self._outputs()

    def _group_scope(
        self, kind: ScopeKind, parent: Scope, group: Node, task_name: str, display: str
    ) -> Scope:
        comp = new_dag_component()
        key = self.new_key(f"comp-{task_name}")
        self.add_component(key, comp)
        task: dict[str, Any] = {"componentRef": {"name": key}, "taskInfo": {"name": display}}
        parent.tasks[task_name] = task
        scope = Scope(kind, comp, parent=parent, task=task, task_name=task_name, group=group)
        if kind != "branches":
            self.index.group_scopes.setdefault(group.name, []).append(scope)
        return scope

    def _layout(self, nodes: list[Node], scope: Scope) -> None:
        for node in nodes:
            self.index.nodes[node.name] = node
            self.index.where[node.name] = scope
            name = self.index.ir_name(node.name)
            if isinstance(node, ConditionGroup):
                if len(node.branches) == 1:
                    inner = self._group_scope("branch", scope, node, name, node.name)
                    self._layout(node.branches[0].nodes, inner)
                    continue
                outer = self._group_scope("branches", scope, node, name, node.name)
                for i, branch in enumerate(node.branches, start=1):
                    label = "else" if branch.condition is None else ("if" if i == 1 else "elif")
                    inner = self._group_scope(
                        "branch", outer, node, f"{name}-{i}", f"{node.name}-{label}"
                    )
                    self._layout(branch.nodes, inner)
            elif isinstance(node, LoopGroup):
                inner = self._group_scope("loop", scope, node, name, node.name)
                # Not kfp's "-loop-item" suffix: kfp.local takes every input so named, the
                # items of outer loops too, for the item of the loop it is running.
                inner.item_input = f"pipelinechannel--{name}-item"
                self.index.loops[node.name] = inner
                self._layout(node.nodes, inner)
            elif isinstance(node, ExitHandlerGroup):
                inner = self._group_scope("exit", scope, node, name, node.name)
                self.index.nodes[node.exit_task.name] = node.exit_task
                self.index.where[node.exit_task.name] = scope
                self.index.ir_name(node.exit_task.name)
                self._layout(node.nodes, inner)

    # ------------------------------------------------------------------ filling

    def _fill(self, nodes: list[Node], scope: Scope) -> None:
        for node in nodes:
            if isinstance(node, TaskSpec):
                self._task(node, scope)
            elif isinstance(node, ConditionGroup):
                self._condition(node, scope)
            elif isinstance(node, LoopGroup):
                self._loop(node, scope)
            else:
                self._exit(node, scope)

    def _task(self, task: TaskSpec, scope: Scope, exit_of: ExitHandlerGroup | None = None) -> None:
        ir = self.task_ir(task, scope, self)
        name = self.index.ir_name(task.name)
        scope.tasks[name] = ir
        comp = self.components[task.component]
        for input_name, binding in task.inputs.items():
            io = comp.inputs.get(input_name)
            if io is None:
                continue
            if isinstance(binding, FinalStatusBinding):
                if exit_of is None:
                    self.index.problem(
                        task,
                        f"takes the final status as '{input_name}' outside an ExitHandler",
                        "give a FinalStatus input only to the exit task of an ExitHandler",
                    )
                    continue
                set_input(
                    ir,
                    input_name,
                    {"taskFinalStatus": {"producerTask": self.index.ir_name(exit_of.name)}},
                    artifact=False,
                )
                continue
            if isinstance(binding, TemplateBinding):
                # Kubeflow has no Jinja and no run context (ds, the data interval) to
                # render with: refused rather than passed on as literal text.
                self.index.problem(
                    task,
                    f"gets the template {binding.template[:200]!r} as '{input_name}'; "
                    "Kubeflow has no Jinja templates",
                    "make it a pipeline parameter without a templated default and give its "
                    "value when creating the Kubeflow run, or pass a plain str",
                )
                continue
            self._bind(ir, input_name, io, binding, scope, task)
        rule = self.rule_of(task) if exit_of is None else TriggerRule.ALL_DONE
        self._trigger(task, ir, rule, exit_of is not None)
        for target in task.after:
            self._after(task, ir, scope, target, rule)

    def _trigger(
        self, task: TaskSpec, ir: dict[str, Any], rule: TriggerRule | None, is_exit: bool
    ) -> None:
        if is_exit or rule in (TriggerRule.ALL_DONE, TriggerRule.ALWAYS):
            if rule is TriggerRule.ALWAYS and task.after:
                self.index.problem(
                    task,
                    "has trigger rule 'always' and waits for "
                    + ", ".join(f"'{a}'" for a in task.after)
                    + " with .after(); Kubeflow cannot ignore those",
                    "use trigger_rule='all_done' (it runs once they end, however they end), or "
                    "drop the .after()",
                )
            ir["triggerPolicy"] = {"strategy": "ALL_UPSTREAM_TASKS_COMPLETED"}
            return
        if rule in (None, TriggerRule.ALL_SUCCESS, TriggerRule.NONE_FAILED):
            return
        self.index.problem(
            task,
            f"has trigger rule '{rule.value}', which Kubeflow has no equivalent of",
            "Kubeflow runs a task when its upstream tasks succeeded (all_success, or "
            "none_failed, since a task after a skipped If still runs there) or when they all "
            "ended (all_done); use one of those, or branch with If on a task output",
        )

    # ------------------------------------------------------------------ groups

    def _condition(self, group: ConditionGroup, scope: Scope) -> None:
        branch_scopes = self.index.group_scopes[group.name]
        earlier: list[Condition] = []
        for branch, inner in zip(group.branches, branch_scopes, strict=True):
            # Each branch's condition reads only its own inputs: the earlier conditions it
            # negates are written again in its scope, which feeds it their channels.
            terms = [f"!({self._cel(c, inner, group)})" for c in earlier]
            if branch.condition is not None:
                terms.append(self._cel(branch.condition, inner, group))
                earlier.append(branch.condition)
            assert inner.task is not None
            if terms:
                cel = " && ".join(terms) if len(terms) > 1 else terms[0]
                inner.task["triggerPolicy"] = {"condition": cel}
            self._fill(branch.nodes, inner)
        self._group_after(group, scope)

    def _loop(self, group: LoopGroup, scope: Scope) -> None:
        inner = self.index.group_scopes[group.name][0]
        assert inner.task is not None and inner.item_input is not None
        items = group.items
        item_kind = "STRING"
        values = self._literal_items(group)
        if values is None and not self._runtime_items_ok(group):
            return
        if values is not None:
            item_kind = constant_item_type(values)
            iterator: dict[str, Any] = {"raw": json.dumps(values)}
        if group.mapped and not values:
            self.findings.note(
                f"mapped task '{group.nodes[0].name}': over an empty list Headwater skips "
                "it and what needs all of it, while Kubeflow runs its downstream tasks "
                "with an empty list"
            )
        if values is None:
            assert not isinstance(items, CombinedItems | ConstantBinding)
            if isinstance(items, LoopItemBinding) and items.key is not None:
                self.index.problem(
                    group,
                    f"loops over key '{items.key}' of an outer loop's item, and Kubeflow "
                    "loops only over whole values",
                    "loop over a list that a task returns, or over a list parameter",
                )
                return
            ref = self.index.ref(items)
            io = self.index.ref_io(ref)
            if io is not None and io.type is not None and io.type.items is not None:
                item_kind = item_type(io.type.items)
            binding = self.index.value(ref, inner, group)
            if binding is None:
                return
            channel = binding.get("componentInputParameter")
            if channel is None:  # a raw list is the only other way in
                self.index.problem(
                    group, "loops over a value Kubeflow cannot iterate", "loop over a list"
                )
                return
            iterator = {"inputParameter": channel}
        inner.task["parameterIterator"] = {"itemInput": inner.item_input, "items": iterator}
        if group.parallelism is not None:
            inner.task["iteratorPolicy"] = {"parallelismLimit": group.parallelism}
        add_definition(
            inner.comp, "inputDefinitions", inner.item_input, {"parameterType": item_kind}
        )
        inner.channels.add(inner.item_input)
        self._fill(group.nodes, inner)
        self._group_after(group, scope)

    def _literal_items(self, group: LoopGroup) -> list[Any] | None:
        """A loop's items when they are literals (combined and shaped here, as the engine
        would at run time), else None."""
        items = group.items
        values: list[Any]
        if isinstance(items, ConstantBinding):
            values = items.value if isinstance(items.value, list) else []
        elif isinstance(items, CombinedItems) and all(
            isinstance(n.items, ConstantBinding) and isinstance(n.items.value, list)
            for n in items.lists
        ):
            lists: list[list[Any]] = [n.items.value for n in items.lists]  # type: ignore[union-attr,misc]
            values = list(items.combine(lists))
        else:
            return None
        shape = group.item_shape
        if shape is not None:
            values = [{**shape.optional, **v} if isinstance(v, dict) else v for v in values]
        return values

    def _runtime_items_ok(self, group: LoopGroup) -> bool:
        """Whether a loop over values known only at run time has a Kubeflow form."""
        what = "mapped task" if group.mapped else "loop"
        if isinstance(group.items, CombinedItems):
            self.index.problem(
                group,
                f"combines lists ({group.items.kind}) known only at run time, which a "
                "Kubeflow loop cannot",
                "return the combined list of dicts from a task and map over its output with "
                "expand_kwargs(...), or combine literal lists",
            )
            return False
        if group.item_shape is not None:
            self.index.problem(
                group,
                "maps dicts of arguments known only at run time (expand_kwargs), whose keys "
                "and defaults a Kubeflow loop cannot check or fill in",
                "loop with 'with ParallelFor(rows) as row:' and pass each argument as "
                "row.name, or expand_kwargs over a literal list",
            )
            return False
        if group.max_items is not None:
            self.index.problem(
                group,
                f"caps its items with max_items={group.max_items}, which a Kubeflow {what} "
                "cannot enforce on a list known only at run time",
                "drop max_items (or .set_max_items) to export it, or loop over a literal list",
            )
            return False
        return True

    def _exit(self, group: ExitHandlerGroup, scope: Scope) -> None:
        inner = self.index.group_scopes[group.name][0]
        self._fill(group.nodes, inner)
        self._task(group.exit_task, scope, exit_of=group)
        exit_ir = scope.tasks[self.index.ir_name(group.exit_task.name)]
        add_dependency(exit_ir, self.index.ir_name(group.name))
        self._group_after(group, scope)

    def _group_after(self, group: Node, scope: Scope) -> None:
        task = scope.tasks[self.index.ir_name(group.name)]
        for target in group.after:
            self._after(group, task, scope, target, None)

    # ------------------------------------------------------------------ dependencies

    def _visible(self, inside: Scope, node_name: str) -> tuple[Scope, list[str], Node | TaskSpec]:
        """For something in ``inside`` that waits for node ``node_name``: the scope where
        the two meet, the IR task names to wait for there, and the Headwater node those
        stand for (the node itself, or the group around it)."""
        target_scope = self.index.where[node_name]
        meet = next(s for s in inside.chain() if s.contains(target_scope))
        if target_scope is meet:
            node = self.index.nodes[node_name]
            names = [self.index.ir_name(node_name)]
            if isinstance(node, ExitHandlerGroup):
                names.append(self.index.ir_name(node.exit_task.name))
            return meet, names, node
        child = next(s for s in target_scope.chain() if s.parent is meet)
        assert child.group is not None
        names = [child.task_name]
        if isinstance(child.group, ExitHandlerGroup):
            names.append(self.index.ir_name(child.group.exit_task.name))
        return meet, names, child.group

    def _after(
        self,
        node: User,
        ir: dict[str, Any],
        scope: Scope,
        target: str,
        rule: TriggerRule | None,
    ) -> None:
        if target not in self.index.where:
            return
        meet, names, upstream = self._visible(scope, target)
        waiter, waiter_name = ir, self.index.ir_name(node.name)
        if meet is not scope:
            child = next(s for s in scope.chain() if s.parent is meet)
            assert child.task is not None
            waiter, waiter_name = child.task, child.task_name
            if rule in (TriggerRule.ALL_DONE, TriggerRule.ALWAYS):
                self.index.problem(
                    node,
                    f"has trigger rule '{rule.value}' and waits for '{target}' outside the "
                    "block it is in; Kubeflow can only make the whole block wait",
                    f"move '{node.name}' out of the block, or drop the trigger rule",
                )
        if (
            isinstance(upstream, ConditionGroup)
            and all(b.condition is not None for b in upstream.branches)
            and rule in (None, TriggerRule.ALL_SUCCESS)
        ):
            self.index.problem(
                node,
                f"waits for If '{upstream.name}', which has no Else: where no branch runs, "
                "Headwater skips this task and Kubeflow runs it",
                "add an Else block, move the task into the If block, or set "
                "trigger_rule='none_failed' to run it either way",
            )
        for name in names:
            if name != waiter_name:
                add_dependency(waiter, name)

    def _bind(
        self,
        ir: dict[str, Any],
        name: str,
        io: IOSpec,
        binding: Binding,
        scope: Scope,
        task: TaskSpec,
    ) -> None:
        if isinstance(binding, ConstantBinding):
            if binding.value is None and io.has_default and io.default is None:
                return  # the component's own default
            set_input(ir, name, {"runtimeValue": {"constant": binding.value}}, artifact=False)
            return
        ref = self.index.ref(binding)
        value = self.index.value(ref, scope, task)
        if value is None:
            return
        if isinstance(binding, LoopItemBinding) and binding.key is not None:
            value = {
                **value,
                "parameterExpressionSelector": f'parseJson(string_value)["{binding.key}"]',
            }
        set_input(ir, name, value, artifact=io.kind == "artifact")

    # ------------------------------------------------------------------ conditions

    def _cel(self, cond: Condition, scope: Scope, group: ConditionGroup) -> str:
        if isinstance(cond, Logical):
            parts = [self._cel(c, scope, group) for c in cond.operands]
            if cond.op == "not":
                return f"!({parts[0]})"
            joiner = " && " if cond.op == "and" else " || "
            return joiner.join(f"({p})" if len(parts) > 1 else p for p in parts)
        assert isinstance(cond, Comparison)
        left_t, right_t = self._operand_type(cond.left), self._operand_type(cond.right)
        floats = "float" in (left_t, right_t)
        left = self._operand(cond.left, scope, group, floats)
        right = self._operand(cond.right, scope, group, floats)
        if cond.op == "in":
            return f"{left} in {right}"
        if cond.op == "not_in":
            return f"!({left} in {right})"
        return f"{left} {cond.op} {right}"

    def _operand_type(self, side: Any) -> str | None:
        if isinstance(side, ConstantBinding):
            value = side.value
            if isinstance(value, bool):
                return "bool"
            if isinstance(value, int):
                return "int"
            if isinstance(value, float):
                return "float"
            return None
        if isinstance(side, LoopItemBinding):
            return None
        io = self.index.ref_io(self.index.ref(side))
        return io.type.kind if io is not None and io.type is not None else None

    def _operand(self, side: Any, scope: Scope, group: ConditionGroup, floats: bool) -> str:
        if isinstance(side, ConstantBinding):
            return cel_literal(side.value, floats)
        if isinstance(side, LoopItemBinding) and side.key is not None:
            self.index.problem(
                group,
                f"compares key '{side.key}' of a loop item, which a Kubeflow condition cannot read",
                "pass the item to a component that returns the value, and compare its output",
            )
            return "null"
        ref = self.index.ref(side)
        binding = self.index.value(ref, scope, group)
        if binding is None:
            return "null"
        channel = binding["componentInputParameter"]
        text = f"inputs.parameter_values['{channel}']"
        kind = self._operand_type(side)
        if kind == "int":
            return f"double({text})" if floats else f"int({text})"
        return text

    # ------------------------------------------------------------------ pipeline outputs

    def _outputs(self) -> None:
        comp = self.index.root.comp
        for name, binding in self.impl.outputs.items():
            io = self.spec.outputs[name]
            key = output_key(self.spec, name)
            ref = self.index.ref(binding)
            value = self.index.value(ref, self.index.root, PipelineOutput(name, self.spec.source))
            if value is None:
                continue
            artifact = io.kind == "artifact"
            comp["dag"].setdefault("outputs", {}).setdefault(
                "artifacts" if artifact else "parameters", {}
            )[key] = selector(value, artifact)
            add_definition(comp, "outputDefinitions", key, io_definition(io))
