"""The run loop: decide what may run next, launch it, record what happened.

Every state change is committed to the metadata store before the engine acts on it
(DESIGN.md, contract 3). The same loop resumes a run: units whose task already finished
in an earlier engine are restored from the store instead of being launched again.

The loop, heartbeats, timers, dispatch to the executor and the run's end are here; what
may run next is decided by control flow (``_flow``), and each task's attempts are handled
in ``_attempts``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from headwater._config import Settings
from headwater.engine._attempts import SLOT_POLL_SECONDS, Attempts
from headwater.engine._environments import prepare_environments, resolve_environments
from headwater.engine._flow import ControlFlow, run_outputs
from headwater.engine._honour import check_options
from headwater.engine._secrets import task_environment as secret_environment
from headwater.engine._sensors import Sensors
from headwater.engine._state import Observer
from headwater.engine._steps import Steps
from headwater.engine._units import Unit, scope_done
from headwater.errors import EnvError, HeadwaterError, LostRun, OptionNotHonoured
from headwater.executors import (
    Environment,
    ExecEvent,
    Executor,
    Report,
    Resources,
    TaskRequest,
    body_imports,
    make_executor,
)
from headwater.spec import DagImplementation, PipelineSpec, PythonImplementation, TaskOptions
from headwater.states import TASK_LIVE, TASK_OK, RunStatus, TaskStatus
from headwater.store import ArtifactStore, MetadataStore, RunRecord

T = TaskStatus
# How long a cancelled run waits for its killed tasks' ends to be reported.
CANCEL_WAIT_SECONDS = 5.0
# When only starts were reported, how long the loop waits for more events before it
# commits them: a task that ends within it has its start and its end recorded by one
# statement, in one transaction, instead of two of each.
START_WINDOW_SECONDS = 0.02


def heartbeat_seconds() -> float:
    """Seconds between run heartbeats; a scheduler adopts runs silent for several of them."""
    return float(os.environ.get("HEADWATER_HEARTBEAT_SECONDS", "5"))


# Asks for no resources: whether the executor has a free slot at all.
NOTHING = Resources()


class Engine(ControlFlow, Attempts, Steps, Sensors):
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
        ignore_image: bool | None = None,
    ) -> None:
        from headwater.store import process_owner

        settings = settings or Settings.from_env()
        super().__init__(
            store,
            artifacts,
            run,
            spec,
            source_root=source_root or os.getcwd(),
            work_dir=work_dir,
            log_dir=log_dir,
            executor=executor or make_executor(),
            observer=observer,
            owner=owner or process_owner(),
            max_active_tasks=max_active_tasks,
            settings=settings,
            heartbeat_every=heartbeat_seconds(),
            ignore_image=settings.ignore_image if ignore_image is None else ignore_image,
        )
        self._init_sensors()

    # ------------------------------------------------------------------ public

    @property
    def on_notification(self) -> Callable[[], None] | None:
        """Told (with no arguments) each time the run queues notifications in the outbox."""
        return self.notices.on_queue

    @on_notification.setter
    def on_notification(self, callback: Callable[[], None] | None) -> None:
        self.notices.on_queue = callback

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
        try:
            try:
                # Checked before the run was created, unless an older Headwater created it
                # or the executor that drives it is not the one it was checked against.
                ignored = check_options(self.spec, self.executor, ignore_image=self.ignore_image)
            except OptionNotHonoured as exc:
                return self._fail_start(str(exc))
            for text in ignored:
                self._warn(text)
            try:
                in_environments = self._prepare_environments()
            except EnvError as exc:
                return self._fail_start(str(exc))
            self.executor.start(*self._preload(exclude=in_environments))
            with self.store.batch():
                self._instantiate(self.spec.dag.nodes, self.root)
                self._evaluate()
            self.files.tidy()
            while True:
                # Persist before acting: the batch commits, then queued tasks are submitted
                # and recorded steps started.
                self._dispatch()
                self._start_steps()
                self._start_waits()
                if self.cancel_requested:
                    return self._cancel()
                done = scope_done(self.root)
                if done is not None and not self.running and not self.steps:
                    return self._finish(done)
                self._heartbeat()
                events = self.executor.events(self._wait_seconds())
                if events and all(ev.kind == "started" for ev in events):
                    events += self.executor.events(START_WINDOW_SECONDS)
                with self.store.batch():
                    for ev in events:
                        self._on_event(ev)
                    self._poll_steps()
                    self._poll_fired()
                    self._timers()
                    self._evaluate()
                    self._record_starts()
                self.files.tidy()
        finally:
            if self.steps:  # the engine stops (the run was adopted, or a failure): so do they
                self._stop_steps(record=False)
            self._forget_waits()
            self.executor.close()
            self.learned.finish_run(self.spec.name, self.spec.components, ran=self.warmed)
            self.learned.save()

    def _warn(self, text: str) -> None:
        if self.on_warning is not None:
            self.on_warning(text)
        else:
            logging.getLogger("headwater.engine").warning("run %s: %s", self.run.id, text)

    def _preload(self, exclude: set[str]) -> tuple[list[tuple[str, str, str]], list[str]]:
        """The modules the default worker should import before forking tasks: the
        pipeline's own, and the libraries its components (but those in ``exclude``, which
        run in per-step environments) import, as read from their bodies and as learned
        from earlier tasks."""
        modules = self._modules()
        keep = [c for c in modules if c not in exclude]
        return sorted(set(modules.values())), self._imports_of(keep)

    def _modules(self) -> dict[str, tuple[str, str, str]]:
        """(root, module, file) of each Python component, by component key."""
        found: dict[str, tuple[str, str, str]] = {}
        for key, comp in self.spec.components.items():
            impl = comp.implementation
            if isinstance(impl, PythonImplementation) and impl.source is None:
                found[key] = (self.source_root, impl.module, impl.file)
        return found

    def _imports_of(self, components: list[str]) -> list[str]:
        """What the tasks of ``components`` import: what their bodies name, and what
        earlier tasks of theirs were seen to import."""
        functions: dict[str, set[str]] = {}
        for key in components:
            impl = self.spec.components[key].implementation
            if isinstance(impl, PythonImplementation) and impl.file:
                path = os.path.join(self.source_root, impl.file)
                functions.setdefault(path, set()).add(impl.function)
        found = set(self.learned.modules(self.spec.name, components))
        for path, names in functions.items():
            found |= body_imports(path, names)
        return sorted(found)

    def _prepare_environments(self) -> set[str]:
        """Resolve the per-step environments the run's tasks ask for and have the executor
        prepare each (a build, the first time), before any task runs; the components
        that run in them."""
        self.environments = resolve_environments(self.spec)
        if not self.environments:
            return set()
        modules = self._modules()
        in_environments: set[str] = set()

        def prepare(environment: Environment, components: list[str], report: Report) -> None:
            in_environments.update(components)
            preload = sorted({modules[c] for c in components if c in modules})
            imports = self._imports_of([c for c in components if c in modules])
            self.executor.prepare(environment, preload, report, imports=imports)

        prepare_environments(self.spec, self.environments, prepare, self.on_environment)
        return in_environments

    def _fail_start(self, error: str) -> RunStatus:
        """The run cannot start (an environment cannot be had): it fails, no task ran."""
        with self.store.batch():
            self.finished = True
            self.store.runs.set_run_status(
                self.run.id, RunStatus.RUNNING, RunStatus.FAILED, error=error
            )
            self.run_status = RunStatus.FAILED
            self.notices.tell_run("failure", self.run_status, error=error)
        return RunStatus.FAILED

    # ------------------------------------------------------------------ executor

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
            if options.secrets or options.connections or options.variables:
                try:  # read now, so a value changed since the run was created is current
                    env.update(secret_environment(self.store, options))
                except HeadwaterError as exc:
                    self._fail(
                        unit, f"{exc.message}; {exc.hint}" if exc.hint else exc.message, T.QUEUED
                    )
                    continue
            env.update(
                HEADWATER_RUN_ID=self.run.id,
                HEADWATER_TASK=unit.path,
                HEADWATER_ATTEMPT=str(unit.attempt),
            )
            if options.image and self.ignore_image:
                self._note_ignored_image(record.log_path, options.image)
            self.running[record.id] = unit
            self.executor.submit(
                TaskRequest(
                    id=record.id,
                    input_path=str(self.files.input_path(record)),
                    log_path=record.log_path or os.devnull,
                    env=env,
                    cwd=self.source_root,
                    resources=res,
                    fresh_interpreter=bool(options.fresh_interpreter),
                    timeout_seconds=options.timeout_seconds,
                    environment=unit.environment,
                    task_input=unit.task_input,
                )
            )
        self.ready = waiting

    def _note_ignored_image(self, log_path: str | None, image: str) -> None:
        """Say at the top of an attempt's log that its image is ignored, as asked."""
        if log_path is None or self.executor.refuse("image", image) is None:
            return
        with contextlib.suppress(OSError), open(log_path, "a", encoding="utf-8") as log:
            log.write(
                f"[headwater] image={image!r} is ignored as asked (--ignore-image or "
                f"HEADWATER_IGNORE_IMAGE=1): this attempt runs on the {self.executor.name} "
                "executor's own Python\n"
            )

    # ------------------------------------------------------------------ events and time

    def _on_event(self, ev: ExecEvent) -> None:
        unit = self.running.get(ev.id)
        if unit is None or unit.record is None:
            return
        if ev.kind == "started":
            # Recorded with the attempt's end if that comes in the same batch, else by
            # _record_starts before the batch commits: nothing acts on a start meanwhile.
            self.unrecorded_starts[unit.record.id] = {
                "pid": ev.pid,
                "node": ev.node,
                "started_at": datetime.fromtimestamp(ev.at or time.time(), UTC),
            }
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

    def _record_starts(self) -> None:
        """Record the starts of attempts still running at the end of a batch."""
        for record_id, values in self.unrecorded_starts.items():
            self.store.tasks.update_task_run(record_id, T.QUEUED, T.RUNNING, **values)
        self.unrecorded_starts.clear()

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
        poke = self._next_wake()
        if poke is not None:
            wake.append(poke)
        return max(0.0, min(wake) - now)

    def _timers(self) -> None:
        now = time.time()
        if self._deadline is not None and self._deadline <= now:
            self._miss_deadline()
        for unit in sorted(self.retrying, key=lambda u: u.retry_at or 0):
            if unit.retry_at is not None and unit.retry_at <= now and unit.options is not None:
                self.retrying.discard(unit)
                self._new_attempt(unit)
        if self.resting:
            self._poke_due(now)

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
            self.notices.tell_run(
                "deadline_missed",
                self.run_status,
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
        outputs = None
        if target is RunStatus.SUCCEEDED:
            impl = self.spec.root.implementation
            assert isinstance(impl, DagImplementation)
            outputs = run_outputs(impl, self.root)
        else:
            # The tasks that failed it (a teardown's failure alone does not fail a run), and a
            # loop that failed before opening (too many items, items no list), which has no
            # task to tell of it: its own reason counts.
            failed = [
                u
                for u in self.root.all_units()
                if u.status is T.FAILED
                and ((u.is_task and u.counts) or (not u.is_task and u.error))
            ]
            error = "; ".join(
                f"{u.path}: {(u.error or '').splitlines()[0] if u.error else 'failed'}"
                for u in failed[:3]
            )
        self.store.runs.set_run_status(
            self.run.id, RunStatus.RUNNING, target, error=error or None, outputs=outputs
        )
        self.run_status = target
        kind = "success" if target is RunStatus.SUCCEEDED else "failure"
        self.notices.tell_run(kind, self.run_status, error=error)
        return target

    def _cancel(self) -> RunStatus:
        """Kill the running attempts, wait a little for their ends, and record every
        attempt that has not ended, and the run, as cancelled."""
        for record_id in list(self.running):
            self.executor.cancel(record_id)
        if self.steps:
            self._stop_steps(record=True)
        self._cancel_waits()
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
