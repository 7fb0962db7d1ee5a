"""The run loop: decide what may run next, launch it, record what happened.

Every state change is committed to the metadata store before the engine acts
on it (DESIGN.md, contract 3). The same loop resumes a run: units whose task
already finished in an earlier engine are restored from the store instead of
being launched again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from headwater._config import Settings
from headwater.engine._importing import importer_task_input, uri_policy
from headwater.engine._outcomes import (
    describe_failure,
    describe_lost,
    finished,
    read_output,
    started,
    task_error,
)
from headwater.engine._outputs import store_outputs
from headwater.engine._plan import SpecPlan
from headwater.engine._triggers import Decision, decide
from headwater.engine._units import (
    ArtifactValue,
    Scope,
    Unavailable,
    Unit,
    resolve,
    scope_done,
    state,
)
from headwater.errors import LostRun, UriNotAllowed
from headwater.executors import ExecEvent, Executor, Resources, TaskRequest, make_executor
from headwater.runtime import TASK_SCHEMA, artifact_entry, write_json
from headwater.spec import (
    Comparison,
    ComponentSpec,
    Condition,
    ConditionGroup,
    DagImplementation,
    ExitHandlerGroup,
    ImporterImplementation,
    LoopGroup,
    PipelineSpec,
    PythonImplementation,
    TaskOptions,
    TaskSpec,
    TriggerRule,
)
from headwater.states import (
    TASK_DONE,
    TASK_FAILURE,
    TASK_LIVE,
    TASK_OK,
    TASK_SUCCESS,
    TASK_UNSTARTED,
    RunStatus,
    TaskStatus,
)
from headwater.store import (
    DEFAULT_POOL,
    ArtifactRecord,
    ArtifactStore,
    MetadataStore,
    MetricPoint,
    NewNotification,
    RunRecord,
    SlotRequest,
    TaskRunRecord,
)

T = TaskStatus
# How long a cancelled run waits for its killed tasks' ends to be reported.
CANCEL_WAIT_SECONDS = 5.0
# How often a task waiting for a pool slot asks again (slots also free up when our own
# tasks end, which asks at once).
SLOT_POLL_SECONDS = 0.2


def heartbeat_seconds() -> float:
    """Seconds between run heartbeats; a scheduler adopts runs silent for several of them."""
    return float(os.environ.get("HEADWATER_HEARTBEAT_SECONDS", "5"))


# Asks for no resources: whether the executor has a free slot at all.
NOTHING = Resources()

Observer = Callable[[str, Unit], None]
"""Told ``(kind, unit)`` as a run goes on: ``task`` and ``group`` (a state changed),
``retry`` (an attempt failed and will be retried), ``requeued`` (an attempt an earlier
engine queued but never started is queued again)."""


class Engine:
    """Drives one run to its end on an executor."""

    def __init__(
        self,
        store: MetadataStore,
        artifacts: ArtifactStore,
        run: RunRecord,
        spec: PipelineSpec,
        *,
        source_root: str | None,
        work_dir: Path,
        log_dir: Path,
        executor: Executor | None = None,
        observer: Observer | None = None,
        owner: str | None = None,
        max_active_tasks: int | None = None,
        settings: Settings | None = None,
    ) -> None:
        from headwater.store import process_owner

        self.store = store
        # Where this Headwater keeps its state: confined runs may not read it, and the
        # importer's hashing bounds.
        self.settings = settings or Settings.from_env()
        self.owner = owner or process_owner()
        self.max_active_tasks = max_active_tasks
        self.artifact_store = artifacts
        self.run = run
        self.spec = spec
        self.plan = SpecPlan(spec)
        self.source_root = source_root or os.getcwd()
        self.work_dir = work_dir
        self.log_dir = log_dir
        self.executor = executor or make_executor()
        self.observer = observer
        # Told (with no arguments) each time the run queues notifications in the outbox.
        self.on_notification: Callable[[], None] | None = None
        self.ready: list[Unit] = []
        self.running: dict[str, Unit] = {}
        # Units to (re)consider, in the order they became interesting (a FIFO set).
        self.dirty: dict[Unit, None] = {}
        self.dependents: dict[int, list[Unit]] = {}
        self.retrying: set[Unit] = set()
        self._options_cache: dict[tuple[str, str], TaskOptions] = {}
        self.history: dict[str, list[TaskRunRecord]] = {}
        # The highest attempt number each task path has used, cleared attempts included.
        self.attempts_used: dict[str, int] = {}
        # Attempts waiting for pool slots or under a concurrency limit, and the pools.
        self.waiting: list[Unit] = []
        self._pools: dict[str, int | None] = {}
        self._last_grant = 0.0
        self._grant_now = False
        self._heartbeat_every = heartbeat_seconds()
        self._deadline: float | None = None
        self.cancel_requested = False
        self.finished = False
        self._last_heartbeat = 0.0
        self._dirs_made = False
        # Task files of attempts that succeeded, removed once that is committed.
        self._tidy_up: list[Path] = []
        self._interfaces: dict[str, dict[str, Any]] = {}
        self.root = Scope("", None, "", inputs=dict(run.parameters))
        self.run_status = run.status

    # ------------------------------------------------------------------ public

    def request_cancel(self) -> None:
        """Ask the loop to cancel the run (safe from a signal handler)."""
        self.cancel_requested = True
        self.executor.wake()

    def execute(self) -> RunStatus:
        """Run (or resume) until every task is done or the run is cancelled."""
        from headwater.errors import RunError

        if not self.store.control.claim_run(self.run.id, self.owner):
            raise RunError(
                f"run {self.run.id} is driven by another engine",
                hint="wait for it; a scheduler adopts runs whose engine stopped",
            )
        for rec in self.store.tasks.task_runs(self.run.id):
            self.attempts_used[rec.path] = max(self.attempts_used.get(rec.path, 0), rec.attempt)
            if rec.cleared_at is None:
                self.history.setdefault(rec.path, []).append(rec)
        if self.run_status is RunStatus.QUEUED:
            self.store.runs.set_run_status(self.run.id, RunStatus.QUEUED, RunStatus.RUNNING)
            self.run_status = RunStatus.RUNNING
        self._pools = self.store.pools.limited_pools()
        if self.spec.deadline_seconds and self.run.deadline_missed_at is None:
            self._deadline = self.run.created_at.timestamp() + self.spec.deadline_seconds
        self.executor.start(*self._preload())
        try:
            with self.store.batch():
                self._instantiate(self.spec.dag.nodes, self.root)
                self._evaluate()
            self._tidy()
            while True:
                # Persist before acting: the batch commits, then queued tasks are submitted.
                self._dispatch()
                if self.cancel_requested:
                    return self._cancel()
                done = scope_done(self.root)
                if done is not None and not self.running:
                    return self._finish(done)
                self._heartbeat()
                events = self.executor.events(self._wait_seconds())
                with self.store.batch():
                    for ev in events:
                        self._on_event(ev)
                    self._timers()
                    self._evaluate()
                self._tidy()
        finally:
            self.executor.close()

    # ------------------------------------------------------------------ structure

    def _preload(self) -> tuple[list[tuple[str, str, str]], list[str]]:
        """The modules the zygote should import before forking tasks."""
        modules: set[tuple[str, str, str]] = set()
        imports: set[str] = set()
        for comp in self.spec.components.values():
            impl = comp.implementation
            if isinstance(impl, PythonImplementation):
                modules.add((self.source_root, impl.module, impl.file))
        return sorted(modules), sorted(imports)

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
        unit.deps = self._deps(unit)
        for dep, _ in unit.deps:
            self.dependents.setdefault(id(dep), []).append(unit)
        self.dirty[unit] = None

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

    def _component(self, task: TaskSpec) -> ComponentSpec:
        return self.spec.components[task.component]

    def _deps(self, unit: Unit) -> list[tuple[Unit, bool]]:
        plan = self.plan.dags[unit.scope.dag_key]
        out = []
        for dep in plan.deps.get(unit.name, []):
            target = unit.scope.lookup(dep.name)
            if target is not None and target is not unit:
                out.append((target, dep.data))
        return out

    def _options(self, task: TaskSpec) -> TaskOptions:
        key = (task.component, task.name)
        options = self._options_cache.get(key)
        if options is None:
            comp = self._component(task)
            options = self.spec.task_defaults.overlay(comp.options).overlay(task.options)
            self._options_cache[key] = options
        return options

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
        options = self._options(unit.node)
        rule = options.trigger_rule or TriggerRule.ALL_SUCCESS
        considered = (
            [u for u, data in deps if data] if rule is TriggerRule.ALWAYS else [u for u, _ in deps]
        )
        states = [state(u) for u in considered]
        if unit.exit_of is not None:
            body = unit.exit_of.children[0]
            body_state = scope_done(body)
            if body_state is None:
                return False
            rule = TriggerRule.ALL_DONE
        decision = decide(rule, states)
        if decision is Decision.WAIT:
            return False
        if decision is Decision.RUN:
            self._start(unit)
        else:
            self._record_final(unit, T.SKIPPED if decision is Decision.SKIP else T.UPSTREAM_FAILED)
        return True

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
            try:
                items = resolve(node.items, scope)
            except Unavailable as exc:
                self._settle_group(unit, T.UPSTREAM_FAILED, str(exc))
                return
            if not isinstance(items, list):
                self._settle_group(unit, T.FAILED, f"ParallelFor items are not a list: {items!r}")
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

    def _restore(self, unit: Unit) -> bool:
        """Take a task's outcome from an earlier engine; True if nothing is left to do."""
        records = self.history.get(unit.path)
        if not records:
            unit.attempt = self.attempts_used.get(unit.path, 0)  # after any cleared attempts
            return False
        last = records[-1]
        unit.attempt = last.attempt
        unit.counted_failures = sum(1 for r in records if r.status is T.UP_FOR_RETRY)
        if last.status in TASK_DONE:
            unit.status = last.status
            unit.record = last
            unit.error = last.error
            if last.status in TASK_SUCCESS:
                self._load_outputs(unit, last.outputs or {})
            self._notify("task", unit)
            return True
        if last.status is T.UP_FOR_RETRY:
            # Waiting to retry: prepare the task as usual; the retry timer launches it.
            unit.retry_at = last.retry_at.timestamp() if last.retry_at else time.time()
            unit.status = T.UP_FOR_RETRY
            unit.record = last
            self.retrying.add(unit)
            self._notify("task", unit)
            return False
        current = last.status
        if not started(current, last.pid, last.log_path):
            # Queued (or waiting for a slot) and never started: nothing of it ran, so it
            # is neither failed nor a retry used; it is queued again as it is.
            unit.record = last
            unit.status = current
            return False
        # Queued or running when the previous engine stopped: that attempt is lost. Its
        # process may have outlived the engine; stop it so the task never runs twice.
        self.executor.reclaim(last.pid, last.log_path)
        if last.log_path is not None:  # a task process, not a nested pipeline
            result = read_output(self._attempt_dir(last) / f"{last.id}.output.json")
            if finished(result):
                # It finished before its end was recorded: record it, do not run it again.
                if current is not T.RUNNING:  # it ran, though its start was not recorded
                    self.store.tasks.update_task_run(last.id, current, T.RUNNING)
                    current = T.RUNNING
                unit.record = last
                unit.options = self._options(unit.node)
                if self._succeed(unit, result, current, recovered=True):
                    return True
                self.store.tasks.update_task_run(last.id, current, T.FAILED, error=unit.error)
                return False
        self.store.tasks.update_task_run(
            last.id,
            current,
            T.FAILED if current is not T.PENDING else T.CANCELLED,
            error="the engine driving this attempt stopped before it finished; "
            "the task runs again on resume",
        )
        return False

    def _load_outputs(self, unit: Unit, outputs: dict[str, Any]) -> None:
        unit.params = dict(outputs.get("parameters", {}))
        refs = outputs.get("artifacts", {})
        ids = [i for v in refs.values() for i in (v if isinstance(v, list) else [v])]
        records = self.store.lineage.artifacts_by_id(ids)
        for name, ref in refs.items():
            if isinstance(ref, list):
                unit.artifacts[name] = [_value(records[i]) for i in ref]
            else:
                unit.artifacts[name] = _value(records[ref])

    def _start(self, unit: Unit) -> None:
        task: TaskSpec = unit.node
        if self._restore(unit):
            return
        comp = self._component(task)
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

    def _import(self, unit: Unit, comp: ComponentSpec, values: dict[str, Any]) -> None:
        """An importer: reuse the artifact already recorded for the URI (unless
        ``reimport``, and only where this run may read it), else run an importer attempt,
        which checks the URI and hashes it in a task process."""
        impl = comp.implementation
        assert isinstance(impl, ImporterImplementation)
        uri = str(values.get("uri", ""))
        record = None if impl.reimport else self.store.lineage.find_artifact_by_uri(uri)
        if record is not None and self.run.confined:
            try:
                uri_policy(self.settings, self.store).check(uri)  # resolves links; opens nothing
            except UriNotAllowed:
                record = None  # the attempt refuses it, and says why, in the task's error
        if record is None:
            self._prepare_attempt(unit, comp, values)
            return
        unit.artifacts = {"artifact": _value(record)}
        unit.status = T.SUCCEEDED
        unit.record = self.store.tasks.add_task_run(
            self.run.id,
            unit.path,
            unit.name,
            unit.node.component,
            unit.attempt + 1,
            T.SUCCEEDED,
            inputs={"uri": uri},
            outputs={"parameters": {}, "artifacts": {"artifact": record.id}},
            output_artifacts=[("artifact", record.id)],
        )
        self._notify("task", unit)

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
            inputs=_jsonable(values),
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
        impl = self._component(unit.node).implementation
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

    # ------------------------------------------------------------------ attempts

    def _prepare_attempt(self, unit: Unit, comp: ComponentSpec, values: dict[str, Any]) -> None:
        task: TaskSpec = unit.node
        options = self._options(task)
        impl = comp.implementation
        res = options.resources
        resources = Resources(
            cpu=(res.cpu or 0.0) if res else 0.0,
            memory=(res.memory_bytes or 0) if res else 0,
            gpu=(res.gpu or 0) if res else 0,
        )
        # An attempt an earlier engine queued but never started: it runs as it is.
        requeued = unit.status in TASK_UNSTARTED
        problem = self.executor.check(resources)
        if problem:
            message = (
                f"task '{unit.path}' {problem}; lower its request (e.g. "
                f"task.set_options(gpu=...)) or run it where such resources exist"
            )
            if requeued and unit.record is not None and unit.status is not None:
                self.store.tasks.update_task_run(
                    unit.record.id, unit.status, T.FAILED, error=message
                )
                unit.status, unit.error = T.FAILED, message
                self._notify("task", unit)
                return
            self._record_final(unit, T.FAILED, message)
            return
        key = (
            self._cache_key(impl, options, values)
            if isinstance(impl, PythonImplementation) and self._caching(options)
            else None  # an importer's reuse is its own (reimport=False), not the cache
        )
        # Attempts of this task were cleared: the user asked for it to run again.
        cleared = self.attempts_used.get(unit.path, 0) > 0 and not self.history.get(unit.path)
        if (
            key is not None
            and not cleared
            and not requeued
            and self._try_cache(unit, key, options, values)
        ):
            return
        unit.cache_key = key
        unit.resources = resources
        unit.options = options
        if unit.status is T.UP_FOR_RETRY:
            return  # resumed while waiting to retry: the retry timer launches it
        if requeued:
            self._requeue(unit)
            return
        self._new_attempt(unit)

    def _caching(self, options: TaskOptions) -> bool:
        enabled = options.cache.enabled if options.cache else True
        return self.run.cache_enabled and self.spec.cache_enabled and enabled

    def _cache_key(
        self, impl: PythonImplementation, options: TaskOptions, values: dict[str, Any]
    ) -> str:
        def digestable(v: Any) -> Any:
            if isinstance(v, ArtifactValue):
                return {"artifact": v.digest or v.uri}
            if isinstance(v, list):
                return [digestable(x) for x in v]
            return v

        material = {
            "code": impl.code_digest,
            "image": options.image,
            "packages": options.packages,
            "inputs": {k: digestable(v) for k, v in sorted(values.items())},
        }
        text = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    def _try_cache(
        self, unit: Unit, key: str, options: TaskOptions, values: dict[str, Any]
    ) -> bool:
        ttl = options.cache.ttl_seconds if options.cache else None
        hit = self.store.tasks.find_cached(key, ttl)
        if hit is None or not hit.outputs:
            return False
        refs = hit.outputs.get("artifacts", {})
        records = self.store.lineage.artifacts_by_id(refs.values())
        if len(records) != len(refs) or not all(
            self.artifact_store.exists(r.uri) for r in records.values()
        ):
            return False
        self._load_outputs(unit, hit.outputs)
        unit.status = T.CACHED
        unit.attempt = (unit.attempt or 0) + 1
        unit.record = self.store.tasks.add_task_run(
            self.run.id,
            unit.path,
            unit.name,
            unit.node.component,
            unit.attempt,
            T.CACHED,
            inputs=_jsonable(values),
            outputs=hit.outputs,
            cache_key=key,
            cached_from=hit.id,
            copy_metrics_from=hit.id,
            input_artifacts=_artifact_links(values),
            output_artifacts=[(name, aid) for name, aid in refs.items()],
        )
        self._notify("task", unit)
        return True

    def _new_attempt(self, unit: Unit) -> None:
        """Persist a queued attempt and write its task input; it runs when there is room."""
        unit.attempt += 1
        unit.retry_at = None
        options: TaskOptions = unit.options
        pool = options.pool or DEFAULT_POOL
        limited = bool(
            options.pool
            or self._pools.get(DEFAULT_POOL) is not None
            or self.spec.max_active_tasks
            or self.max_active_tasks
        )
        status = T.WAITING if limited else T.QUEUED
        record = self.store.tasks.add_task_run(
            self.run.id,
            unit.path,
            unit.name,
            unit.node.component,
            unit.attempt,
            status,
            inputs=_jsonable(unit.inputs),
            cache_key=unit.cache_key,
            log_path=str(self._log_path(unit)),
            input_artifacts=_artifact_links(unit.inputs),
            pool=pool if limited else None,
            pool_slots=(options.pool_slots or 1) if limited else None,
            priority=options.priority or 0,
        )
        unit.record = record
        unit.status = status
        self._write_task_input(unit, record)
        if limited:
            self.waiting.append(unit)
            self._grant_now = True
        else:
            self.ready.append(unit)
        self._notify("task", unit)

    def _requeue(self, unit: Unit) -> None:
        """Queue again an attempt that an earlier engine queued and never started."""
        record = unit.record
        assert record is not None
        self._write_task_input(unit, record)  # same inputs; the file may not have been written
        if unit.status is T.WAITING:
            self.waiting.append(unit)
            self._grant_now = True
        else:
            self.ready.append(unit)
        self._notify("requeued", unit)

    def _grant(self) -> None:
        """Ask for pool slots for the waiting attempts; the granted ones become queued."""
        now = time.time()
        if not self.waiting or (not self._grant_now and now - self._last_grant < SLOT_POLL_SECONDS):
            return
        self._last_grant = now
        self._grant_now = False
        requests = []
        for unit in self.waiting:
            record = unit.record
            assert record is not None
            requests.append(
                SlotRequest(
                    record.id,
                    record.pool or DEFAULT_POOL,
                    record.pool_slots or 1,
                    record.priority or 0,
                )
            )
        granted, refused = self.store.pools.grant_slots(
            requests,
            pipeline_id=self.run.pipeline_id,
            pipeline_limit=self.spec.max_active_tasks,
            global_limit=self.max_active_tasks,
        )
        if not granted and not refused:
            return
        chosen, still = set(granted), []
        for unit in self.waiting:
            record = unit.record
            assert record is not None
            if record.id in chosen:
                unit.status = T.QUEUED
                self.ready.append(unit)
                self._notify("task", unit)
            elif record.id in refused:
                self.store.tasks.update_task_run(
                    record.id, T.WAITING, T.FAILED, error=refused[record.id]
                )
                unit.status = T.FAILED
                unit.error = refused[record.id]
                self._notify("task", unit)
                self._tell_task("failure", unit, error=unit.error)
            else:
                still.append(unit)
        self.waiting = still

    def _log_path(self, unit: Unit) -> Path:
        return self.log_dir / self.run.id / f"{unit.path}.attempt-{unit.attempt}.log"

    def _attempt_dir(self, record: TaskRunRecord) -> Path:
        return self.work_dir / self.run.id

    def _write_task_input(self, unit: Unit, record: TaskRunRecord) -> None:
        comp = self._component(unit.node)
        impl = comp.implementation
        adir = self._attempt_dir(record)
        if not self._dirs_made:
            adir.mkdir(parents=True, exist_ok=True)
            (self.log_dir / self.run.id).mkdir(parents=True, exist_ok=True)
            self._dirs_made = True
        if isinstance(impl, ImporterImplementation):
            policy = uri_policy(self.settings, self.store) if self.run.confined else None
            data = importer_task_input(
                run_id=self.run.id,
                task_run_id=record.id,
                path=unit.path,
                attempt=unit.attempt,
                uri=str(unit.inputs.get("uri", "")),
                impl=impl,
                output_file=str(adir / f"{record.id}.output.json"),
                settings=self.settings,
                policy=policy,
            )
            write_json(str(adir / f"{record.id}.input.json"), data)
            return
        assert isinstance(impl, PythonImplementation)
        params: dict[str, Any] = {}
        arts: dict[str, Any] = {}
        for name, value in unit.inputs.items():
            if isinstance(value, ArtifactValue):
                arts[name] = {"artifacts": [self._entry(value)]}
            elif (
                isinstance(value, list)
                and value
                and all(isinstance(v, ArtifactValue) for v in value)
            ):
                arts[name] = {"artifacts": [self._entry(v) for v in value]}
            elif comp.inputs.get(name) is not None and comp.inputs[name].kind == "artifact":
                arts[name] = {"artifacts": []}
            else:
                params[name] = value
        outputs: dict[str, Any] = {}
        for name, io in comp.outputs.items():
            if io.kind == "artifact" and name not in impl.return_outputs:
                uri = self.artifact_store.staging_uri(record.id, name)
                path = self.artifact_store.local_path(uri)
                outputs[name] = {
                    "artifacts": [artifact_entry(name, uri, io.artifact_type or "", {}, path)]
                }
        data = {
            "schemaVersion": TASK_SCHEMA,
            "inputs": {"parameterValues": params, "artifacts": arts},
            "outputs": {
                "parameters": {n: {} for n in impl.return_outputs},
                "artifacts": outputs,
                "outputFile": str(adir / f"{record.id}.output.json"),
            },
            "headwater": {
                "runId": self.run.id,
                "taskRunId": record.id,
                "taskPath": unit.path,
                "attempt": unit.attempt,
                "component": {
                    "name": comp.name,
                    "interface": self._interface(unit.node.component, comp),
                    "root": self.source_root,
                    "module": impl.module,
                    "file": impl.file,
                    "function": impl.function,
                    "codeDigest": impl.code_digest,
                },
            },
        }
        write_json(str(adir / f"{record.id}.input.json"), data)

    def _interface(self, key: str, comp: ComponentSpec) -> dict[str, Any]:
        """The component's interface as plain JSON, so task processes need no spec models."""
        cached = self._interfaces.get(key)
        if cached is None:
            impl = comp.implementation
            assert isinstance(impl, PythonImplementation)
            cached = {
                "returns": impl.returns,
                "returnOutputs": list(impl.return_outputs),
                "inputs": {n: io.model_dump(mode="json") for n, io in comp.inputs.items()},
                "outputs": {n: io.model_dump(mode="json") for n, io in comp.outputs.items()},
            }
            self._interfaces[key] = cached
        return cached

    def _entry(self, value: ArtifactValue) -> dict[str, Any]:
        return artifact_entry(
            value.name,
            value.uri,
            value.type,
            value.metadata,
            self.artifact_store.local_path(value.uri),
        )

    def _dispatch(self) -> None:
        if self.waiting:
            with self.store.batch():  # a refused attempt and its notification together
                self._grant()
        if not self.ready:
            return
        waiting: list[Unit] = []
        for i, unit in enumerate(self.ready):
            if not self.executor.has_room(NOTHING):
                waiting.extend(self.ready[i:])  # no slot left: the rest wait, in order
                break
            res: Resources = unit.resources
            if not self.executor.has_room(res):
                waiting.append(unit)  # its resources are busy; a smaller task may fit
                continue
            record = unit.record
            assert record is not None
            options: TaskOptions = unit.options
            env = dict(options.env)
            env.update(
                HEADWATER_RUN_ID=self.run.id,
                HEADWATER_TASK=unit.path,
                HEADWATER_ATTEMPT=str(unit.attempt),
            )
            self.running[record.id] = unit
            self.executor.submit(
                TaskRequest(
                    id=record.id,
                    input_path=str(self._attempt_dir(record) / f"{record.id}.input.json"),
                    log_path=record.log_path or os.devnull,
                    env=env,
                    cwd=self.source_root,
                    resources=res,
                    fresh_interpreter=bool(options.fresh_interpreter),
                    timeout_seconds=options.timeout_seconds,
                )
            )
        self.ready = waiting

    # ------------------------------------------------------------------ events

    def _on_event(self, ev: ExecEvent) -> None:
        unit = self.running.get(ev.id)
        if unit is None or unit.record is None:
            return
        if ev.kind == "started":
            self.store.tasks.update_task_run(
                unit.record.id, T.QUEUED, T.RUNNING, pid=ev.pid, node=ev.node
            )
            unit.status = T.RUNNING
            self._notify("task", unit)
        elif ev.kind in ("exited", "lost"):
            del self.running[ev.id]
            self._grant_now = True
            current = unit.status if unit.status in TASK_LIVE else T.RUNNING
            if ev.kind == "exited":
                self._on_exit(unit, ev, current)
            else:
                self._on_lost(unit, ev.reason or "the task worker process died", current)

    def _output(self, record: TaskRunRecord) -> dict[str, Any]:
        return read_output(self._attempt_dir(record) / f"{record.id}.output.json")

    def _on_exit(self, unit: Unit, ev: ExecEvent, current: TaskStatus) -> None:
        assert unit.record is not None
        status = ev.status if ev.status is not None else -1
        result = self._output(unit.record)
        error = task_error(result)
        if status == 0 and ev.stopped is None and finished(result):
            if self._succeed(unit, result, current):
                return
            error = {"type": "ArtifactError", "message": unit.error or "could not store outputs"}
        message = describe_failure(
            status,
            error,
            stopped=ev.stopped,
            timeout=unit.options.timeout_seconds,
            peak_rss=ev.peak_rss,
            memory=unit.resources.memory if unit.resources is not None else 0,
            oom=ev.oom,
        )
        self._fail(unit, message, current)

    def _on_lost(self, unit: Unit, reason: str, current: TaskStatus) -> None:
        """The worker running the attempt died; its exit status will never come. What
        the task output says decides: finished (recorded, not run again), failed in the
        user's code, or cut short."""
        assert unit.record is not None
        result = self._output(unit.record)
        if finished(result):
            if self._succeed(unit, result, current, recovered=True):
                return
            error = {"type": "ArtifactError", "message": unit.error or "could not store outputs"}
            self._fail(unit, describe_failure(1, error), current)
        elif task_error(result) is not None:
            self._fail(unit, describe_failure(1, task_error(result)), current)
        else:
            self._fail(unit, describe_lost(reason), current)

    def _succeed(
        self,
        unit: Unit,
        result: dict[str, Any],
        current: TaskStatus,
        *,
        recovered: bool = False,
    ) -> bool:
        """Move the attempt's outputs into place and record them; False if they could not
        be stored (the attempt then fails, and may be retried).

        ``recovered``: the attempt's end was not seen when it happened (its worker or
        engine died), so an output may already have been moved into place by an engine
        that stopped before recording it."""
        record = unit.record
        assert record is not None
        new = store_outputs(
            self.artifact_store,
            self._component(unit.node),
            self.run.id,
            unit.path,
            record,
            str(unit.inputs.get("uri", "")),
            result,
            recovered=recovered,
        )
        if isinstance(new, str):
            unit.error = new
            return False
        ids = {a.name: a.id for a in new}
        metric_points = [
            MetricPoint(
                m["key"],
                float(m["value"]),
                m.get("step"),
                datetime.fromtimestamp(m["time"], UTC),
                ids.get(m.get("artifact", "")),
            )
            for m in (result.get("headwater") or {}).get("metrics", [])
        ]
        params = result.get("parameterValues") or {}
        outputs = {"parameters": params, "artifacts": ids}
        self.store.tasks.finish_task_run(
            record,
            T.SUCCEEDED,
            outputs=outputs,
            artifacts=new,
            metrics=metric_points,
            exit_code=0,
            current=current,
        )
        assets = unit.options.assets or {}
        if assets:
            self.store.assets.record_asset_events(
                self.run.id,
                record.id,
                [(asset, ids[name]) for name, asset in sorted(assets.items()) if name in ids],
            )
        unit.params = dict(params)
        unit.artifacts = {
            a.name: ArtifactValue(a.id, a.name, a.type, a.uri, a.digest, a.metadata) for a in new
        }
        unit.status = T.SUCCEEDED
        self.artifact_store.discard(record.id)
        # A succeeded attempt's task files have served their purpose (a failed one's are
        # kept next to its log, for debugging), once its success is committed: until
        # then the output file is what a resumed engine records it from.
        adir = self._attempt_dir(record)
        self._tidy_up.extend(adir / f"{record.id}.{suffix}.json" for suffix in ("input", "output"))
        self._notify("task", unit)
        self._tell_task("success", unit)
        return True

    def _tidy(self) -> None:
        """Remove the task files of attempts whose success is now committed."""
        for path in self._tidy_up:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self._tidy_up.clear()

    def _fail(self, unit: Unit, message: str, current: TaskStatus) -> None:
        record = unit.record
        assert record is not None
        self.artifact_store.discard(record.id)
        options: TaskOptions = unit.options
        retry = options.retry
        if retry and unit.counted_failures < retry.max_retries:
            unit.counted_failures += 1
            delay = retry.delay_seconds * retry.backoff_factor ** (unit.counted_failures - 1)
            if retry.max_delay_seconds is not None:
                delay = min(delay, retry.max_delay_seconds)
            unit.retry_at = time.time() + delay
            self.store.tasks.finish_task_run(
                record,
                T.UP_FOR_RETRY,
                error=message,
                retry_at=datetime.fromtimestamp(unit.retry_at, UTC),
                current=current,
            )
            unit.status = T.UP_FOR_RETRY
            unit.error = message
            self.retrying.add(unit)
            self._notify("retry", unit)
            self._tell("retry", task=unit.path, error=message)
            self._tell_task("retry", unit, error=message)
            return
        self.store.tasks.finish_task_run(record, T.FAILED, error=message, current=current)
        unit.status = T.FAILED
        unit.error = message
        self._notify("task", unit)
        self._tell_task("failure", unit, error=message)

    # ------------------------------------------------------------------ time

    def _wait_seconds(self) -> float:
        now = time.time()
        wake = [now + 1.0, self._last_heartbeat + self._heartbeat_every]
        if self.waiting:
            wake.append(self._last_grant + SLOT_POLL_SECONDS)
        if self._deadline is not None:
            wake.append(self._deadline)
        for unit in self.retrying:
            if unit.retry_at is not None:
                wake.append(unit.retry_at)
        return max(0.0, min(wake) - now)

    def _timers(self) -> None:
        now = time.time()
        if self._deadline is not None and self._deadline <= now:
            self._miss_deadline()
        for unit in sorted(self.retrying, key=lambda u: u.retry_at or 0):
            if unit.retry_at is not None and unit.retry_at <= now and unit.options is not None:
                self.retrying.discard(unit)
                self._new_attempt(unit)

    def _heartbeat(self) -> None:
        now = time.time()
        if now - self._last_heartbeat >= self._heartbeat_every:
            self._last_heartbeat = now
            owned, cancel = self.store.control.heartbeat(self.run.id, self.owner)
            if not owned:
                for record_id in list(self.running):
                    self.executor.cancel(record_id)
                raise LostRun(
                    f"run {self.run.id} was adopted by another engine while this one was silent"
                )
            if cancel:
                self.cancel_requested = True

    def _miss_deadline(self) -> None:
        """The run is still going past its deadline: tell whoever asked, once."""
        self._deadline = None
        if self.store.runs.mark_deadline_missed(self.run.id):
            assert self.spec.deadline_seconds is not None
            self._tell(
                "deadline_missed",
                error=f"the run did not finish within {self.spec.deadline_seconds:g}s",
            )

    # ------------------------------------------------------------------ endings

    def _finish(self, outcome: TaskStatus) -> RunStatus:
        # The run's end and the notifications telling of it are one transaction.
        with self.store.batch():
            return self._finish_run(outcome)

    def _finish_run(self, outcome: TaskStatus) -> RunStatus:
        if self._deadline is not None and self._deadline <= time.time():
            self._miss_deadline()
        self.finished = True
        target = RunStatus.SUCCEEDED if outcome in TASK_OK else RunStatus.FAILED
        error = None
        if target is RunStatus.FAILED:
            failed = [u for u in self.root.all_units() if u.is_task and u.status is T.FAILED]
            error = "; ".join(
                f"{u.path}: {(u.error or '').splitlines()[0] if u.error else 'failed'}"
                for u in failed[:3]
            )
        self.store.runs.set_run_status(self.run.id, RunStatus.RUNNING, target, error=error or None)
        self.run_status = target
        self._tell("success" if target is RunStatus.SUCCEEDED else "failure", error=error)
        return target

    def _tell_task(self, kind: str, unit: Unit, *, error: str | None = None) -> None:
        """Queue a task event for the task's own notification targets."""
        targets = [n for n in unit.options.notifications or () if kind in n.on]
        if targets:
            self._queue(targets, kind, unit.path, error)

    def _tell(self, kind: str, *, task: str | None = None, error: str | None = None) -> None:
        """Queue a run event for the pipeline's notification targets."""
        targets = [n for n in self.spec.notifications if kind in n.on]
        if targets:
            self._queue(targets, kind, task, error)

    def _queue(self, targets: list[Any], kind: str, task: str | None, error: str | None) -> None:
        """Write the event to the outbox, in the transaction of the change it tells of; a
        sender delivers it later, outside any transaction (docs/adr/0010)."""
        payload = {
            "kind": kind,
            "pipeline": self.spec.name,
            "run_id": self.run.id,
            "status": str(self.run_status),
            "task": task,
            "error": error,
        }
        self.store.outbox.add(
            [
                NewNotification(
                    run_id=self.run.id,
                    pipeline=self.spec.name,
                    event=kind,
                    task=task,
                    target=target.model_dump(mode="json"),
                    payload=payload,
                    source_root=self.source_root,
                )
                for target in targets
            ]
        )
        if self.on_notification is not None:
            self.on_notification()

    def _cancel(self) -> RunStatus:
        for record_id in list(self.running):
            self.executor.cancel(record_id)
        deadline = time.time() + CANCEL_WAIT_SECONDS
        while self.running and time.time() < deadline:
            for ev in self.executor.events(0.2):
                if ev.kind in ("exited", "lost"):
                    unit = self.running.pop(ev.id, None)
                    if unit is not None and unit.record is not None:
                        current = unit.status if unit.status in TASK_LIVE else T.RUNNING
                        self.store.tasks.finish_task_run(
                            unit.record, T.CANCELLED, error="run cancelled", current=current
                        )
                        unit.status = T.CANCELLED
                elif ev.kind == "started":
                    unit = self.running.get(ev.id)
                    if unit is not None and unit.record is not None and unit.status is T.QUEUED:
                        self.store.tasks.update_task_run(
                            unit.record.id, T.QUEUED, T.RUNNING, pid=ev.pid, node=ev.node
                        )
                        unit.status = T.RUNNING  # the executor kills it as it starts
        # An attempt whose end was not reported in time (its worker cannot answer) is
        # cancelled all the same: its process group was killed, and none is left running.
        for unit in self.running.values():
            if unit.record is not None and unit.status in TASK_LIVE:
                self.store.tasks.finish_task_run(
                    unit.record,
                    T.CANCELLED,
                    error="run cancelled (its process was killed; its end was not reported)",
                    current=unit.status,
                )
                unit.status = T.CANCELLED
        self.running.clear()
        for unit in self.waiting:
            if unit.record is not None and unit.status is T.WAITING:
                self.store.tasks.update_task_run(
                    unit.record.id, T.WAITING, T.CANCELLED, error="run cancelled"
                )
                unit.status = T.CANCELLED
        for unit in self.ready:
            if unit.record is not None and unit.status is T.QUEUED:
                self.store.tasks.update_task_run(
                    unit.record.id, T.QUEUED, T.CANCELLED, error="run cancelled"
                )
                unit.status = T.CANCELLED
        for unit in self.root.all_units():
            if unit.is_task and unit.status is T.RUNNING and unit.children and unit.record:
                self.store.tasks.finish_task_run(unit.record, T.CANCELLED, error="run cancelled")
        self.finished = True
        self.store.runs.set_run_status(
            self.run.id, RunStatus.RUNNING, RunStatus.CANCELLED, error="cancelled by the user"
        )
        self.run_status = RunStatus.CANCELLED
        return RunStatus.CANCELLED

    def _notify(self, kind: str, unit: Unit) -> None:
        if self.observer is not None:
            self.observer(kind, unit)
        self._propagate(unit)


# ---------------------------------------------------------------------- helpers


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


def _value(record: ArtifactRecord) -> ArtifactValue:
    return ArtifactValue(
        record.id, record.name, record.type, record.uri, record.digest, record.metadata
    )


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    def one(v: Any) -> Any:
        if isinstance(v, ArtifactValue):
            return {"artifact": v.id}
        if isinstance(v, list):
            return [one(x) for x in v]
        return v

    return {k: one(v) for k, v in values.items()}


def _artifact_links(values: dict[str, Any]) -> list[tuple[str, str]]:
    links = []
    for name, v in values.items():
        if isinstance(v, ArtifactValue):
            links.append((name, v.id))
        elif isinstance(v, list):
            links.extend((name, x.id) for x in v if isinstance(x, ArtifactValue))
    return links


def _put(unit: Unit, outputs: dict[str, Any], name: str, value: Any) -> None:
    if isinstance(value, ArtifactValue):
        unit.artifacts[name] = value
        outputs["artifacts"][name] = value.id
    elif isinstance(value, list) and value and all(isinstance(v, ArtifactValue) for v in value):
        unit.artifacts[name] = value
        outputs["artifacts"][name] = [v.id for v in value]
    else:
        unit.params[name] = value
        outputs["parameters"][name] = value
