"""Control flow over a run's DAG: instantiating units and their dependencies, deciding
what may run next under trigger rules, groups (conditions, loops and their parallelism,
exit handlers), nested pipelines, and how a change propagates to what waits on it.

A task unit the trigger rules let run is started here: its inputs are resolved, and it
is handed to the attempts part (``_attempts``), or expanded when it is a pipeline.
"""

from __future__ import annotations

from typing import Any

from headwater.engine._mapping import LoopRefused, describe, loop_items
from headwater.engine._state import RunState
from headwater.engine._triggers import Decision, decide
from headwater.engine._units import (
    Scope,
    Unavailable,
    Unit,
    jsonable,
    record_output,
    resolve,
    scope_done,
    state,
)
from headwater.spec import (
    Comparison,
    ComponentSpec,
    Condition,
    ConditionGroup,
    DagImplementation,
    ExitHandlerGroup,
    ImporterImplementation,
    LoopGroup,
    TaskSpec,
    TriggerImplementation,
    TriggerRule,
    TuneImplementation,
)
from headwater.states import TASK_FAILURE, TASK_OK, TASK_SUCCESS, TaskStatus
from headwater.store import TaskRunRecord

T = TaskStatus


class ControlFlow(RunState):
    """Control flow over the run's DAG (a part of the engine)."""

    # ------------------------------------------------------------------ structure

    def _instantiate(self, nodes: list[Any], scope: Scope) -> None:
        units = []
        for node in nodes:
            unit = Unit(node, scope)
            scope.units[node.name] = unit
            units.append(unit)
        for unit in units:
            self._register(unit)

    def _register(self, unit: Unit) -> None:
        """Resolve a new unit's upstream units once, and consider it soon."""
        if unit.is_task:
            options = self.plan.options(unit.node)
            unit.is_setup = bool(options.setup)
            unit.is_teardown = bool(options.teardown)
            unit.counts = not unit.is_teardown or bool(options.on_failure_fail_run)
        unit.deps = self._deps(unit)
        for dep, _ in unit.deps:
            self.dependents.setdefault(id(dep), []).append(unit)
        self.dirty[unit] = None

    def _notify(self, kind: str, unit: Unit) -> None:
        if self.observer is not None:
            self.observer(kind, unit)
        self._propagate(unit)

    def _propagate(self, unit: Unit) -> None:
        """``unit`` changed: wake what waits on it and on the groups it completes."""
        u: Unit | None = unit
        while u is not None and state(u) is not None:
            for d in self.dependents.get(id(u), ()):
                self.dirty[d] = None
            owner = u.scope.owner
            if owner is None:
                return
            node = owner.node
            if isinstance(node, ExitHandlerGroup) and u.scope is owner.children[0]:
                exit_unit = owner.children[1].units.get(node.exit_task.name)
                if exit_unit is not None:
                    self.dirty[exit_unit] = None
            elif isinstance(node, LoopGroup):
                if id(u.scope) not in owner.finished and scope_done(u.scope) is not None:
                    owner.finished.add(id(u.scope))
                    self._open_iterations(owner)
            elif owner.is_task and owner.status is T.RUNNING:
                self._finish_expanded(owner)
                return  # _finish_expanded notifies, which propagates further
            u = owner

    def _deps(self, unit: Unit) -> list[tuple[Unit, bool]]:
        plan = self.plan.dags[unit.scope.dag_key]
        out = []
        for dep in plan.deps.get(unit.name, []):
            target = unit.scope.lookup(dep.name)
            if target is not None and target is not unit:
                out.append((target, dep.data))
        return out

    # ------------------------------------------------------------------ deciding

    def _evaluate(self) -> None:
        while self.dirty:
            unit = next(iter(self.dirty))
            del self.dirty[unit]
            if not unit.considered and self._consider(unit):
                unit.considered = True

    def _consider(self, unit: Unit) -> bool:
        """Act on ``unit`` if its upstream allows; True once it needs no more attention."""
        deps = unit.deps
        if unit.is_group:
            decision = decide(TriggerRule.ALL_SUCCESS, [state(u) for u, _ in deps])
            if decision is Decision.WAIT:
                return False
            if decision is Decision.RUN:
                self._open(unit)
            else:
                self._settle_group(
                    unit, T.SKIPPED if decision is Decision.SKIP else T.UPSTREAM_FAILED
                )
            return True
        options = self.plan.options(unit.node)
        rule = options.trigger_rule or (
            TriggerRule.ALL_DONE_SETUP_SUCCESS if unit.is_teardown else TriggerRule.ALL_SUCCESS
        )
        if unit.exit_of is not None:
            body = unit.exit_of.children[0]
            body_state = scope_done(body)
            if body_state is None:
                return False
            rule = TriggerRule.ALL_DONE
        if rule is TriggerRule.ALWAYS:
            # It runs at once, except that a value it reads must exist first: it waits
            # for the upstream it takes inputs from (a failed one leaves it upstream_failed).
            data = [state(u) for u, data in deps if data]
            decision = decide(TriggerRule.ALL_DONE, data)
        else:
            held = self._setup_constraint(unit) if self.plan.has_setups else None
            if held in (Decision.SKIP, Decision.UPSTREAM_FAILED):
                decision = held
            else:
                states = [state(u) for u, _ in deps]
                setups = [state(u) for u, _ in deps if u.is_setup]
                decision = decide(rule, states, setups)
                if decision is Decision.RUN and held is Decision.WAIT:
                    decision = Decision.WAIT
        if decision is Decision.WAIT:
            return False
        if decision is Decision.RUN:
            self._start(unit)
        else:
            self._record_final(unit, T.SKIPPED if decision is Decision.SKIP else T.UPSTREAM_FAILED)
        return True

    def _setup_constraint(self, unit: Unit) -> Decision | None:
        """Airflow's rule for a task inside a setup's scope: it runs only once every setup
        it is *indirectly* downstream of has succeeded (a setup it waits for directly is
        its trigger rule's business). A failed one leaves it upstream_failed, a skipped one
        skipped, before its own rule is asked. A setup counts when it has no teardown or one
        of its teardowns is downstream of ``unit``; a teardown has no such setups.

        WAIT while one has not ended yet (its own rule may still settle it meanwhile);
        None when no such setup settles or holds it back."""
        if unit.is_teardown or unit.is_group or unit.exit_of is not None:
            return None
        direct = {id(u) for u, _ in unit.deps}
        setups = [u for u in _upstream_of(unit) if u.is_setup and id(u) not in direct]
        if not setups:
            return None
        below = {id(u) for u in self._downstream_of(unit)}
        relevant = []
        for setup in setups:
            teardowns = [d for d in self.dependents.get(id(setup), ()) if d.is_teardown]
            if not teardowns or any(id(t) in below for t in teardowns):
                relevant.append(setup)
        states = [state(u) for u in relevant]
        if any(s in TASK_FAILURE or s is T.CANCELLED for s in states):
            return Decision.UPSTREAM_FAILED
        if any(s is T.SKIPPED for s in states):
            return Decision.SKIP
        if all(s in TASK_SUCCESS for s in states):
            return None
        return Decision.WAIT

    def _downstream_of(self, unit: Unit) -> list[Unit]:
        """Every unit that waits on ``unit``, directly or through others."""
        seen: dict[int, Unit] = {}
        todo = [unit]
        while todo:
            for d in self.dependents.get(id(todo.pop()), ()):
                if id(d) not in seen:
                    seen[id(d)] = d
                    todo.append(d)
        return list(seen.values())

    # ------------------------------------------------------------------ groups

    def _open(self, unit: Unit) -> None:
        node = unit.node
        unit.opened = True
        scope = unit.scope
        if isinstance(node, ConditionGroup):
            try:
                chosen = next(
                    (
                        i
                        for i, b in enumerate(node.branches)
                        if b.condition is None or self._holds(b.condition, scope)
                    ),
                    None,
                )
            except Unavailable as exc:
                self._settle_group(unit, T.UPSTREAM_FAILED, str(exc))
                return
            for i, branch in enumerate(node.branches):
                if i == chosen:
                    child = Scope(scope.dag_key, scope, scope.prefix, owner=unit)
                    unit.children.append(child)
                    self._instantiate(branch.nodes, child)
                else:
                    self._mark_subtree(branch.nodes, scope.prefix, T.SKIPPED)
            self._notify("group", unit)
        elif isinstance(node, LoopGroup):
            # A loop of a pipeline used as a step is in that pipeline's DAG.
            pipeline = self.spec.components[scope.dag_key].name if scope.dag_key else self.spec.name
            try:
                items = loop_items(node, scope, pipeline, self.settings.max_map_length)
            except Unavailable as exc:
                self._settle_group(unit, T.UPSTREAM_FAILED, str(exc))
                return
            except LoopRefused as exc:
                self._settle_group(unit, T.FAILED, str(exc))
                return
            if not items and node.mapped:
                # Airflow's zero-length map: no task, and the mapped task counts as skipped.
                self._settle_group(unit, T.SKIPPED, f"{describe(node, pipeline)}: no items")
                return
            unit.items = items
            self._open_iterations(unit)
            self._notify("group", unit)
        elif isinstance(node, ExitHandlerGroup):
            body = Scope(scope.dag_key, scope, scope.prefix, owner=unit)
            unit.children.append(body)
            self._instantiate(node.nodes, body)
            exit_scope = Scope(scope.dag_key, scope, scope.prefix, owner=unit)
            unit.children.append(exit_scope)
            exit_unit = Unit(node.exit_task, exit_scope, exit_of=unit)
            exit_scope.units[exit_unit.name] = exit_unit
            self._register(exit_unit)
            self._notify("group", unit)

    def _open_iterations(self, loop: Unit) -> None:
        """Open loop iterations while fewer than ``parallelism`` are unfinished."""
        assert loop.items is not None
        limit = loop.node.parallelism or len(loop.items)
        active = len(loop.children) - len(loop.finished)
        while loop.next_item < len(loop.items) and active < limit:
            i = loop.next_item
            prefix = f"{loop.scope.prefix}{loop.name}[{i}]."
            child = Scope(
                loop.scope.dag_key, loop.scope, prefix, loop=(loop.name, loop.items[i]), owner=loop
            )
            loop.children.append(child)
            self._instantiate(loop.node.nodes, child)
            loop.next_item += 1
            if child.units:
                active += 1
            else:  # an empty body is done as soon as it opens
                loop.finished.add(id(child))

    def _settle_group(self, unit: Unit, status: TaskStatus, reason: str | None = None) -> None:
        """A group that will not run: everything in it gets ``status``."""
        unit.status = status
        unit.error = reason
        node = unit.node
        if isinstance(node, ConditionGroup):
            for b in node.branches:
                self._mark_subtree(b.nodes, unit.scope.prefix, status)
        elif isinstance(node, ExitHandlerGroup):
            self._mark_subtree([*node.nodes, node.exit_task], unit.scope.prefix, status)
        elif isinstance(node, LoopGroup):
            pass  # no iteration exists to mark
        self._notify("group", unit)

    def _mark_subtree(self, nodes: list[Any], prefix: str, status: TaskStatus) -> None:
        for node in nodes:
            if isinstance(node, TaskSpec):
                self._record_row(prefix + node.name, node, status)
            elif isinstance(node, ConditionGroup):
                for b in node.branches:
                    self._mark_subtree(b.nodes, prefix, status)
            elif isinstance(node, ExitHandlerGroup):
                self._mark_subtree([*node.nodes, node.exit_task], prefix, status)

    def _holds(self, cond: Condition, scope: Scope) -> bool:
        if isinstance(cond, Comparison):
            left, right = resolve(cond.left, scope), resolve(cond.right, scope)
            return _compare(cond.op, left, right)
        results = [self._holds(c, scope) for c in cond.operands]
        if cond.op == "and":
            return all(results)
        if cond.op == "or":
            return any(results)
        return not results[0]

    # ------------------------------------------------------------------ tasks

    def _record_row(
        self, path: str, task: TaskSpec, status: TaskStatus, error: str | None = None
    ) -> TaskRunRecord:
        for rec in self.history.get(path, []):
            if rec.status is status:
                return rec
        attempt = self.attempts_used.get(path, 0) + 1
        self.attempts_used[path] = attempt
        return self.store.tasks.add_task_run(
            self.run.id, path, task.name, task.component, attempt, status, error=error
        )

    def _record_final(self, unit: Unit, status: TaskStatus, error: str | None = None) -> None:
        unit.status = status
        unit.error = error
        unit.record = self._record_row(unit.path, unit.node, status, error)
        self._notify("task", unit)

    def _start(self, unit: Unit) -> None:
        task: TaskSpec = unit.node
        if self._restore(unit):
            return
        comp = self.plan.component(task)
        impl = comp.implementation
        try:
            values = {
                name: resolve(b, unit.scope)
                for name, b in task.inputs.items()
                if b.kind != "final_status"
            }
        except Unavailable as exc:
            self._record_final(unit, T.UPSTREAM_FAILED, f"an input cannot be read: {exc}")
            return
        if unit.exit_of is not None:
            for name, b in task.inputs.items():
                if b.kind == "final_status":
                    values[name] = self._final_status(unit.exit_of)
        unit.inputs = values
        if isinstance(impl, ImporterImplementation):
            self._import(unit, comp, values)
        elif isinstance(impl, DagImplementation):
            self._expand(unit, comp, values)
        elif isinstance(impl, TuneImplementation):
            self._tune(unit, comp, values)
        elif isinstance(impl, TriggerImplementation):
            self._defer(unit, comp, values)
        else:
            self._prepare_attempt(unit, comp, values)

    def _final_status(self, group: Unit) -> dict[str, Any]:
        body = group.children[0]
        outcome = scope_done(body) or T.FAILED
        failed = [u for u in body.all_units() if u.is_task and u.status in TASK_FAILURE]
        first_error = next((u.error for u in failed if u.error), None)
        return {
            "state": "succeeded" if outcome in TASK_OK else "failed",
            "pipeline": self.spec.name,
            "run_id": self.run.id,
            "error_message": first_error,
            "failed_tasks": [u.path for u in failed],
        }

    # ------------------------------------------------------------------ nested pipelines

    def _expand(self, unit: Unit, comp: ComponentSpec, values: dict[str, Any]) -> None:
        impl = comp.implementation
        assert isinstance(impl, DagImplementation)
        inputs = dict(values)
        for name, io in comp.inputs.items():
            if name not in inputs and io.has_default:
                inputs[name] = io.default
        inner = Scope(unit.node.component, unit.scope, f"{unit.path}.", inputs=inputs, owner=unit)
        unit.children.append(inner)
        unit.opened = True
        unit.status = T.RUNNING
        unit.record = self.store.tasks.add_task_run(
            self.run.id,
            unit.path,
            unit.name,
            unit.node.component,
            unit.attempt + 1,
            T.RUNNING,
            inputs=jsonable(values),
        )
        self._instantiate(impl.dag.nodes, inner)
        self._notify("task", unit)

    def _finish_expanded(self, unit: Unit) -> None:
        """Close a nested pipeline task once its inner DAG has finished."""
        if not unit.children or unit.record is None:
            return
        outcome = scope_done(unit.children[0])
        if outcome is None:
            return
        impl = self.plan.component(unit.node).implementation
        assert isinstance(impl, DagImplementation)
        target = T.SUCCEEDED if outcome in TASK_OK else T.FAILED
        outputs: dict[str, Any] = {"parameters": {}, "artifacts": {}}
        if target is T.SUCCEEDED:
            try:
                for name, b in impl.outputs.items():
                    _put(unit, outputs, name, resolve(b, unit.children[0]))
            except Unavailable as exc:
                target, unit.error = T.FAILED, str(exc)
        unit.status = target
        self.store.tasks.finish_task_run(unit.record, target, outputs=outputs, error=unit.error)
        self._notify("task", unit)


# ---------------------------------------------------------------------- helpers


def _upstream_of(unit: Unit) -> list[Unit]:
    """Every unit ``unit`` waits on, directly or through others."""
    seen: dict[int, Unit] = {}
    todo = [unit]
    while todo:
        for dep, _ in todo.pop().deps:
            if id(dep) not in seen:
                seen[id(dep)] = dep
                todo.append(dep)
    return list(seen.values())


def _compare(op: str, left: Any, right: Any) -> bool:
    try:
        if op == "==":
            return bool(left == right)
        if op == "!=":
            return bool(left != right)
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        if op == ">=":
            return bool(left >= right)
        if op == "in":
            return bool(left in right)
        if op == "not_in":
            return bool(left not in right)
    except TypeError as exc:
        raise Unavailable(f"cannot compare {left!r} {op} {right!r}: {exc}") from None
    raise Unavailable(f"unknown comparison '{op}'")


def run_outputs(impl: DagImplementation, root: Scope) -> dict[str, Any]:
    """A finished run's own outputs (what its pipeline function returns), as the run records
    them. An output whose producer did not succeed (a branch not taken) is left out: the
    run's outcome is its tasks', not whether each output has a value."""
    outputs: dict[str, Any] = {"parameters": {}, "artifacts": {}}
    for name, binding in impl.outputs.items():
        try:
            record_output(outputs, name, resolve(binding, root))
        except Unavailable:
            continue
    return outputs


def _put(unit: Unit, outputs: dict[str, Any], name: str, value: Any) -> None:
    """Set a nested pipeline's output ``name``: on its unit, and in the outputs recorded."""
    record_output(outputs, name, value)
    if name in outputs["artifacts"]:
        unit.artifacts[name] = value
    else:
        unit.params[name] = value
