"""What an engine holds while it drives one run, declared once for all its parts.

:class:`~headwater.engine._engine.Engine` is made of :class:`RunState` and two parts that
read and change it: control flow over the DAG (``_flow``) and the life of task attempts
(``_attempts``). Each part calls into the other only through the hooks declared here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from headwater._config import Settings
from headwater.engine._environments import EnvObserver, Requirements
from headwater.engine._importing import uri_policy
from headwater.engine._notices import Notices
from headwater.engine._plan import SpecPlan
from headwater.engine._taskfiles import TaskFiles
from headwater.engine._units import Scope, Unit
from headwater.executors import Environment, Executor, LearnedImports
from headwater.spec import ComponentSpec, PipelineSpec
from headwater.states import RunStatus, TaskStatus
from headwater.store import (
    DEFAULT_POOL,
    ArtifactStore,
    MetadataStore,
    RunRecord,
    TaskRunRecord,
)

Observer = Callable[[str, Unit], None]
"""Told ``(kind, unit)`` as a run goes on: ``task`` and ``group`` (a state changed),
``retry`` (an attempt failed and will be retried), ``requeued`` (an attempt an earlier
engine queued but never started is queued again)."""


class RunState(ABC):
    """The state of one run as its engine drives it, and the engine's collaborators."""

    def __init__(
        self,
        store: MetadataStore,
        artifacts: ArtifactStore,
        run: RunRecord,
        spec: PipelineSpec,
        *,
        source_root: str,
        work_dir: Path,
        log_dir: Path,
        executor: Executor,
        observer: Observer | None,
        owner: str,
        max_active_tasks: int | None,
        settings: Settings,
        heartbeat_every: float,
        ignore_image: bool = False,
    ) -> None:
        # The run, its spec, and what the engine works with.
        self.store = store
        # Where this Headwater keeps its state: confined runs may not read it, and the
        # importer's hashing bounds.
        self.settings = settings
        self.owner = owner
        self.max_active_tasks = max_active_tasks
        self.artifact_store = artifacts
        self.run = run
        self.spec = spec
        self.plan = SpecPlan(spec)
        self.source_root = source_root
        self.executor = executor
        self.observer = observer
        self.files = TaskFiles(
            run_id=run.id,
            work_dir=work_dir,
            log_dir=log_dir,
            artifacts=artifacts,
            source_root=source_root,
            settings=settings,
            policy=partial(uri_policy, settings, store) if run.confined else None,
        )
        self.notices = Notices(store, spec, run.id, source_root)
        # What the pipeline's tasks import, learned as they run; whether this run has
        # needed a task process yet (the executor's workers start only then).
        self.learned = LearnedImports(
            settings.home, source_root, spec.source.file if spec.source else f"<{spec.name}>"
        )
        self.warmed = False
        self.run_status: RunStatus = run.status
        # Per-step environments by requirement set, resolved as the run starts; told how
        # preparing them goes.
        self.environments: dict[Requirements, Environment] = {}
        self.on_environment: EnvObserver | None = None
        # Run tasks that set image= on an executor that has no images (docs/adr/0012);
        # told, once as the run starts, each option it knowingly ignores (None: logged).
        self.ignore_image = ignore_image
        self.on_warning: Callable[[str], None] | None = None

        # The run-time graph (control flow).
        self.root = Scope("", None, "", inputs=dict(run.parameters), templates=dict(run.templates))
        # Units to (re)consider, in the order they became interesting (a FIFO set).
        self.dirty: dict[Unit, None] = {}
        self.dependents: dict[int, list[Unit]] = {}

        # Attempts: the store's record of them, and where each one is now.
        self.history: dict[str, list[TaskRunRecord]] = {}
        # The highest attempt number each task path has used, cleared attempts included.
        self.attempts_used: dict[str, int] = {}
        # Attempts waiting for pool slots or under a concurrency limit, and the pools.
        self.waiting: list[Unit] = []
        self._pools: dict[str, int | None] = {}
        self._last_grant = 0.0
        self._grant_now = False
        self.ready: list[Unit] = []
        self.running: dict[str, Unit] = {}
        # Starts reported but not recorded yet, by attempt id: the values to record.
        self.unrecorded_starts: dict[str, dict[str, Any]] = {}
        self.retrying: set[Unit] = set()
        # Steps the engine drives itself (tune steps), by attempt id, and those recorded in
        # the batch being written, started once it commits.
        self.steps: dict[str, tuple[Unit, Any]] = {}
        self.steps_to_start: list[tuple[Unit, Any]] = []

        # The loop: heartbeats, the run's deadline, and its end.
        self._heartbeat_every = heartbeat_every
        self._last_heartbeat = 0.0
        self._deadline: float | None = None
        self.cancel_requested = False
        self.finished = False

    # ------------------------------------------------------------------ slots

    def _slot_limited(self, options: Any) -> bool:
        """Whether an attempt with ``options`` must be granted a slot before it is queued:
        it takes a pool's slots, or a concurrency limit applies."""
        return bool(
            options.pool
            or self._pools.get(DEFAULT_POOL) is not None
            or self.spec.max_active_tasks
            or self.max_active_tasks
        )

    def _enqueue(self, unit: Unit) -> None:
        """Put an attempt (waiting for a slot, or queued) where the loop dispatches it."""
        if unit.status is TaskStatus.WAITING:
            self.waiting.append(unit)
            self._grant_now = True
        else:
            self.ready.append(unit)

    # ------------------------------------------------------------------ hooks

    # Control flow (``_flow``) offers these to the other parts.

    @abstractmethod
    def _notify(self, kind: str, unit: Unit) -> None:
        """``unit`` changed: tell the observer and wake what waits on it."""

    @abstractmethod
    def _record_final(self, unit: Unit, status: TaskStatus, error: str | None = None) -> None:
        """Record that a task ends with ``status`` without (another) attempt."""

    # Attempts (``_attempts``) offer these to control flow.

    @abstractmethod
    def _restore(self, unit: Unit) -> bool:
        """Take a task's outcome from an earlier engine; True if nothing is left to do."""

    @abstractmethod
    def _import(self, unit: Unit, comp: ComponentSpec, values: dict[str, Any]) -> None:
        """Start an importer task with input ``values``."""

    # Steps (``_steps``) offer these to control flow and attempts.

    @abstractmethod
    def _tune(self, unit: Unit, comp: ComponentSpec, values: dict[str, Any]) -> None:
        """Start a tune step with input ``values``."""

    @abstractmethod
    def _resume_tune(self, unit: Unit) -> None:
        """Go on with the study of a tune step an earlier engine left running."""

    # Sensors (``_sensors``) offer these to control flow and attempts.

    @abstractmethod
    def _defer(self, unit: Unit, comp: ComponentSpec, values: dict[str, Any]) -> None:
        """Start (or go on with) a built-in wait with input ``values``."""

    @abstractmethod
    def _not_yet(self, unit: Unit, current: TaskStatus, started: dict[str, Any] | None) -> None:
        """An @sensor poke found its condition false: rest until the next poke."""

    @abstractmethod
    def _mark_asset(self, unit: Unit) -> None:
        """A sensor succeeded: mark the asset it updates, if any."""

    @abstractmethod
    def _rest(self, unit: Unit, wake: float, pokes: int) -> None:
        """Keep a deferred @sensor attempt until ``wake``, then poke it again."""

    @abstractmethod
    def _prepare_attempt(self, unit: Unit, comp: ComponentSpec, values: dict[str, Any]) -> None:
        """Start a task that runs in a task process with input ``values``: take its cached
        result, or queue an attempt."""
