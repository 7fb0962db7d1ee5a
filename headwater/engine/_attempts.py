"""The life of a task's attempts: restoring what an earlier engine left, importers,
preparing an attempt (the resource check, the cache), queuing it, pool slots, and its
end: outputs, metrics and asset events stored on success; on failure a retry with
backoff, or the task fails.

The engine's loop (``_engine``) submits the queued attempts and hands their executor
events here.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from headwater.engine._caching import cache_key, caching_applies, find_hit, take_hit
from headwater.engine._environments import environment_for, task_requirements
from headwater.engine._importing import uri_policy
from headwater.engine._outcomes import (
    describe_failure,
    describe_lost,
    finished,
    started,
    task_error,
)
from headwater.engine._outputs import store_outputs
from headwater.engine._state import RunState
from headwater.engine._units import (
    ArtifactValue,
    Unit,
    artifact_links,
    artifact_value,
    jsonable,
    load_outputs,
)
from headwater.errors import EnvError, HeadwaterError, InvalidValue, UriNotAllowed
from headwater.executors import Environment, ExecEvent, Resources
from headwater.spec import (
    ComponentSpec,
    ContainerImplementation,
    ImporterImplementation,
    PythonImplementation,
    TaskOptions,
    TaskSpec,
    TuneImplementation,
)
from headwater.states import TASK_DONE, TASK_SUCCESS, TASK_UNSTARTED, TaskStatus
from headwater.store import (
    DEFAULT_POOL,
    ArtifactRecord,
    MetricPoint,
    SlotRequest,
    TaskRunRecord,
)

if TYPE_CHECKING:
    from headwater.registry import Registration

T = TaskStatus
# The importer URIs that name a registered model's version (headwater.registry's scheme,
# spelt here so that a run without them never imports the registry).
MODELS_SCHEME = "models:/"
# How often a task waiting for a pool slot asks again (slots also free up when our own
# tasks end, which asks at once).
SLOT_POLL_SECONDS = 0.2


class Attempts(RunState):
    """The life of task attempts (a part of the engine)."""

    # ------------------------------------------------------------------ starting

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
                load_outputs(self.store, unit, last.outputs or {})
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
        if current is T.DEFERRED:
            # A sensor between checks: its wait goes on (re-armed as the task starts).
            unit.record = last
            unit.status = T.DEFERRED
            return False
        if current is T.RUNNING and isinstance(
            self.plan.component(unit.node).implementation, TuneImplementation
        ):
            unit.record = last  # a study: it goes on where it was
            self._resume_tune(unit)
            return True
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
            result = self.files.read_output(last)
            if finished(result):
                # It finished before its end was recorded: record it, do not run it again.
                if current is not T.RUNNING:  # it ran, though its start was not recorded
                    self.store.tasks.update_task_run(last.id, current, T.RUNNING)
                    current = T.RUNNING
                unit.record = last
                unit.options = self.plan.options(unit.node)
                if (result.get("headwater") or {}).get("not_ready"):
                    # A sensor's poke that said "not yet": its wait goes on (or times out).
                    self._not_yet(unit, current, None)
                    return unit.status is not T.DEFERRED
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

    def _import(self, unit: Unit, comp: ComponentSpec, values: dict[str, Any]) -> None:
        """An importer: reuse the artifact already recorded for the URI (unless
        ``reimport``, and only where this run may read it), else run an importer attempt,
        which checks the URI and hashes it in a task process."""
        impl = comp.implementation
        assert isinstance(impl, ImporterImplementation)
        uri = str(values.get("uri", ""))
        if uri.startswith(MODELS_SCHEME):
            self._import_model(unit, uri)
            return
        record = None if impl.reimport else self.store.lineage.find_artifact_by_uri(uri)
        if record is not None and self.run.confined:
            try:
                uri_policy(self.settings, self.store).check(uri)  # resolves links; opens nothing
            except UriNotAllowed:
                record = None  # the attempt refuses it, and says why, in the task's error
        if record is None:
            self._prepare_attempt(unit, comp, values)
            return
        self._imported(unit, record, {"uri": uri})

    def _imported(self, unit: Unit, record: ArtifactRecord, inputs: dict[str, Any]) -> None:
        """An importer that needs no attempt: it succeeds at once with ``record``."""
        unit.artifacts = {"artifact": artifact_value(record)}
        unit.status = T.SUCCEEDED
        unit.record = self.store.tasks.add_task_run(
            self.run.id,
            unit.path,
            unit.name,
            unit.node.component,
            unit.attempt + 1,
            T.SUCCEEDED,
            inputs=inputs,
            outputs={"parameters": {}, "artifacts": {"artifact": record.id}},
            output_artifacts=[("artifact", record.id)],
        )
        self._notify("task", unit)

    def _import_model(self, unit: Unit, uri: str) -> None:
        """``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``: the version's artifact, as
        the registry has it now (an alias may have moved since the last run); a URI that
        names nothing fails the task, naming it."""
        from headwater.registry import resolve

        try:
            version = resolve(self.store, uri)
            record = self.store.lineage.get_artifact(version.artifact_id)
        except HeadwaterError as exc:
            message = f"cannot import {uri!r}: {exc.message}"
            if exc.hint:
                message += f" ({exc.hint})"
            self._record_final(unit, T.FAILED, message)
            return
        self._imported(
            unit, record, {"uri": uri, "model": version.model, "version": version.version}
        )

    def _prepare_attempt(self, unit: Unit, comp: ComponentSpec, values: dict[str, Any]) -> None:
        task: TaskSpec = unit.node
        options = self.plan.options(task)
        impl = comp.implementation
        res = options.resources
        resources = Resources(
            cpu=(res.cpu or 0.0) if res else 0.0,
            memory=(res.memory_bytes or 0) if res else 0,
            gpu=(res.gpu or 0) if res else 0,
            accelerator=res.accelerator if res else None,
            custom=dict(res.custom) if res else {},
        )
        # An attempt an earlier engine queued but never started: it runs as it is.
        requeued = unit.status in TASK_UNSTARTED
        environment: Environment | None = None
        message: str | None = None
        try:
            environment = self._environment_of(options)
        except EnvError as exc:
            message = f"task '{unit.path}': {exc}"
        problem = None if message else self.executor.check(resources, environment)
        if problem and environment is not None and "environment" in problem:
            message = f"task '{unit.path}' {problem}"
        elif problem:
            message = (
                f"task '{unit.path}' {problem}; lower its request (e.g. "
                f"task.set_options(gpu=...)) or run it where such resources exist"
            )
        if message:
            if requeued and unit.record is not None and unit.status is not None:
                self.store.tasks.update_task_run(
                    unit.record.id, unit.status, T.FAILED, error=message
                )
                unit.status, unit.error = T.FAILED, message
                self._notify("task", unit)
                return
            self._record_final(unit, T.FAILED, message)
            return
        sensor = isinstance(impl, PythonImplementation) and impl.sensor
        key = (
            cache_key(impl, options, values, environment.digest if environment else None)
            if isinstance(impl, PythonImplementation | ContainerImplementation)
            and not sensor  # a sensor asks the world each time
            and caching_applies(self.run, self.spec, options)
            else None  # an importer's reuse is its own (reimport=False), not the cache
        )
        # Attempts of this task were cleared: the user asked for it to run again.
        cleared = self.attempts_used.get(unit.path, 0) > 0 and not self.history.get(unit.path)
        if key is not None and not cleared and not requeued:
            hit = find_hit(self.store, self.artifact_store, key, options)
            if hit is not None:
                take_hit(self.store, self.run.id, unit, hit, key, values)
                self._notify("task", unit)
                return
        unit.cache_key = key
        unit.resources = resources
        unit.options = options
        unit.environment = environment
        if unit.status is T.UP_FOR_RETRY:
            return  # resumed while waiting to retry: the retry timer launches it
        if unit.status is T.DEFERRED and unit.record is not None:
            # A sensor an earlier engine left between pokes: poked again when it is due.
            wake = unit.record.wake_at.timestamp() if unit.record.wake_at else time.time()
            self._rest(unit, wake, unit.record.pokes or 0)
            return
        if requeued:
            self._requeue(unit)
            return
        self._new_attempt(unit)

    def _environment_of(self, options: TaskOptions) -> Environment | None:
        """The per-step environment a task with ``options`` runs in (resolved at the run's
        start), or None for the executor's own Python."""
        key = task_requirements(options)
        if key is None:
            return None
        if key not in self.environments:  # not foreseen at the start: resolve it now
            self.environments[key] = environment_for(key)
        return self.environments[key]

    # ------------------------------------------------------------------ queuing

    def _new_attempt(self, unit: Unit) -> None:
        """Persist a queued attempt and make its task input; it runs when there is room."""
        if not self.warmed:  # a task must run: the workers warm up while this commits
            self.warmed = True
            self.executor.warm()
        unit.attempt += 1
        unit.retry_at = None
        options: TaskOptions = unit.options
        pool = options.pool or DEFAULT_POOL
        limited = self._slot_limited(options)
        status = T.WAITING if limited else T.QUEUED
        record = self.store.tasks.add_task_run(
            self.run.id,
            unit.path,
            unit.name,
            unit.node.component,
            unit.attempt,
            status,
            inputs=jsonable(unit.inputs),
            cache_key=unit.cache_key,
            log_path=str(self.files.log_path(unit)),
            input_artifacts=artifact_links(unit.inputs),
            pool=pool if limited else None,
            pool_slots=(options.pool_slots or 1) if limited else None,
            priority=options.priority or 0,
        )
        unit.record = record
        unit.status = status
        unit.task_input = self.files.task_input(unit, record, self.plan.component(unit.node))
        self._enqueue(unit)
        self._notify("task", unit)

    def _requeue(self, unit: Unit) -> None:
        """Queue again an attempt that an earlier engine queued and never started."""
        record = unit.record
        assert record is not None
        # Same inputs (its task input was never handed to a process).
        unit.task_input = self.files.task_input(unit, record, self.plan.component(unit.node))
        self._enqueue(unit)
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
                self.notices.tell_task("failure", unit, self.run_status, error=unit.error)
            else:
                still.append(unit)
        self.waiting = still

    # ------------------------------------------------------------------ endings

    def _on_exit(self, unit: Unit, ev: ExecEvent, current: TaskStatus) -> None:
        assert unit.record is not None
        status = ev.status if ev.status is not None else -1
        result = self.files.read_output(unit.record)
        error = task_error(result)
        if status == 0 and ev.stopped is None and finished(result):
            if (result.get("headwater") or {}).get("not_ready"):
                current, started = self._take_start(unit.record, current)
                self._not_yet(unit, current, started)
                return
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
        result = self.files.read_output(unit.record)
        if finished(result):
            if (result.get("headwater") or {}).get("not_ready"):
                current, started = self._take_start(unit.record, current)
                self._not_yet(unit, current, started)
                return
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
        requests: list[Registration] = []
        if unit.options.register_models or (result.get("headwater") or {}).get("register"):
            from headwater.registry import registrations

            try:
                requests = registrations(result, unit.options.register_models or {})
            except InvalidValue as exc:
                unit.error = f"cannot register the model: {exc.message}"
                return False
        new = store_outputs(
            self.artifact_store,
            self.plan.component(unit.node),
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
        if requests:
            from headwater.registry import check_registrations

            problem = check_registrations(self.store, requests, ids)
            if problem is not None:
                unit.error = problem
                return False
        current, started = self._take_start(record, current)
        self.store.tasks.finish_task_run(
            record,
            T.SUCCEEDED,
            outputs=outputs,
            artifacts=new,
            metrics=metric_points,
            exit_code=0,
            current=current,
            started=started,
        )
        if requests:  # in the batch that records the task's success
            from headwater.registry import register_outputs

            register_outputs(
                self.store,
                requests,
                ids,
                run_id=self.run.id,
                task_run_id=record.id,
                actor=f"run {self.run.id} task {unit.path}",
            )
        assets = unit.options.assets or {}
        if assets:
            self.store.assets.record_asset_events(
                self.run.id,
                record.id,
                [(asset, ids[name]) for name, asset in sorted(assets.items()) if name in ids],
            )
        if unit.options.sensor is not None:
            self._mark_asset(unit)
        self._learn(unit, (result.get("headwater") or {}).get("imports"))
        unit.params = dict(params)
        unit.artifacts = {
            a.name: ArtifactValue(a.id, a.name, a.type, a.uri, a.digest, a.metadata) for a in new
        }
        unit.status = T.SUCCEEDED
        unit.task_input = None
        self.artifact_store.discard(record.id)
        # A succeeded attempt's task files have served their purpose (a failed one's are
        # kept next to its log, for debugging), once its success is committed: until
        # then the output file is what a resumed engine records it from.
        self.files.tidy_later(record)
        self._notify("task", unit)
        self.notices.tell_task("success", unit, self.run_status)
        return True

    def _learn(self, unit: Unit, imports: Any) -> None:
        """Note what the attempt's task imported; what the workers do not hold yet they
        import now, before they fork the tasks that follow."""
        if not imports:
            return
        new = self.learned.learn(self.spec.name, unit.node.component, imports)
        if not new:
            return
        if unit.environment is None:
            self.executor.start([], new)
        else:
            self.executor.prepare(unit.environment, [], None, imports=new)

    def _take_start(
        self, record: TaskRunRecord, current: TaskStatus
    ) -> tuple[TaskStatus, dict[str, Any] | None]:
        """Where the store has an attempt that is ``current`` to the engine, and its start
        if that is not recorded yet (the attempt's end then records both)."""
        started = self.unrecorded_starts.pop(record.id, None)
        return (T.QUEUED if started is not None else current), started

    def _fail(self, unit: Unit, message: str, current: TaskStatus) -> None:
        """The attempt failed: retry the task after its backoff, if retries are left; else
        the task fails."""
        record = unit.record
        assert record is not None
        self.artifact_store.discard(record.id)
        self.files.keep_input(record, unit.task_input)
        unit.task_input = None
        current, started = self._take_start(record, current)
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
                started=started,
            )
            unit.status = T.UP_FOR_RETRY
            unit.error = message
            self.retrying.add(unit)
            self._notify("retry", unit)
            self.notices.tell_run("retry", self.run_status, task=unit.path, error=message)
            self.notices.tell_task("retry", unit, self.run_status, error=message)
            return
        self.store.tasks.finish_task_run(
            record,
            T.FAILED,
            error=message,
            current=current,
            started=started,
        )
        unit.status = T.FAILED
        unit.error = message
        self._notify("task", unit)
        self.notices.tell_task("failure", unit, self.run_status, error=message)
