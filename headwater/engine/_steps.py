"""Steps the engine drives itself, beside its task attempts: a tune step (docs/adr/0020).

A tune step starts a hyperparameter study whose trials are runs of another pipeline.
No task process runs it: a task process never opens the metadata database, and a study
creates runs. The engine records the step's attempt as running, with the study's name
in its inputs (so an engine that resumes the run goes on with the same study), and hands
the study to a :class:`StepDriver`, which drives it on threads of its own while the
engine's loop goes on with the rest of the run. When the driver says the study ended,
the engine records the step's outputs (the best trial) or its failure.

The driver is :mod:`headwater.tuning`'s, which sits above the engine (it drives trial
runs with the engine). The engine finds it by name when a run first needs it, as the
executor registry finds the Ray executor: the layers' imports still point one way.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from headwater._config import Settings
from headwater.engine._state import RunState
from headwater.engine._units import Unit, jsonable
from headwater.errors import ConfigurationError
from headwater.spec import ComponentSpec, TuneImplementation
from headwater.states import TaskStatus
from headwater.store import ArtifactStore, MetadataStore, RunRecord

T = TaskStatus
# Where a tune step's attempt keeps the name of its study, among its recorded inputs (a
# key no input can have: inputs are Python identifiers).
STUDY_INPUT = "headwater.study"
# The module that drives each kind of step, and the factory it exports.
DRIVERS = {"tune": ("headwater.tuning", "drive_tune_step")}
# How long a cancelled run waits for a step's trials to be cancelled.
STOP_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class StepContext:
    """What a driver needs to drive one tune step of one run."""

    settings: Settings
    store: MetadataStore
    artifacts: ArtifactStore
    run: RunRecord
    path: str
    impl: TuneImplementation
    params: dict[str, Any]
    study: str
    resume: bool
    source_root: str
    executor: str
    executor_address: str | None
    log_path: str
    wake: Callable[[], None]


@dataclass(frozen=True)
class StepOutcome:
    """How a step ended: its outputs (parameters) if it succeeded, else why it failed."""

    status: TaskStatus
    outputs: dict[str, Any]
    error: str | None = None


class StepDriver(Protocol):
    """Drives one step on threads of its own; the engine polls it from its loop."""

    def poll(self) -> StepOutcome | None:
        """The outcome once the step ended, else None."""

    def stop(self) -> None:
        """Ask the step to stop (its trials are cancelled); returns at once."""

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the step's threads to end; True if they did."""


def step_driver(kind: str) -> Callable[[StepContext], StepDriver]:
    """The factory of the driver of ``kind`` steps."""
    module, name = DRIVERS[kind]
    try:
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]
    except ImportError as exc:  # pragma: no cover - part of this package
        raise ConfigurationError(f"cannot drive a {kind} step: {exc}") from exc


def study_name(prefix: str, run_id: str, path: str, attempt: int) -> str:
    """The study a tune step starts: unique per run, task and attempt, and a valid
    experiment name (its trials' experiment)."""
    where = re.sub(r"[^A-Za-z0-9_.-]+", "_", path).strip("_") or "tune"
    name = f"{prefix[:48]}-{run_id.lower()}-{where[:40]}"
    return f"{name}-{attempt}" if attempt > 1 else name


class Steps(RunState):
    """Tune steps (a part of the engine)."""

    def _tune(self, unit: Unit, comp: ComponentSpec, values: dict[str, Any]) -> None:
        """Record the step's attempt as running, with the study it starts, and start the
        study."""
        impl = comp.implementation
        assert isinstance(impl, TuneImplementation)
        unit.attempt += 1
        name = study_name(impl.study or impl.pipeline.name, self.run.id, unit.path, unit.attempt)
        log_path = str(self.files.log_path(unit))
        unit.record = self.store.tasks.add_task_run(
            self.run.id,
            unit.path,
            unit.name,
            unit.node.component,
            unit.attempt,
            T.RUNNING,
            inputs={**jsonable(values), STUDY_INPUT: name},
            log_path=log_path,
        )
        unit.status = T.RUNNING
        self._notify("task", unit)
        self._drive_step(unit, impl, values, name, resume=False)

    def _resume_tune(self, unit: Unit) -> None:
        """A tune step an earlier engine left running: go on with its study."""
        record = unit.record
        assert record is not None
        comp = self.plan.component(unit.node)
        impl = comp.implementation
        assert isinstance(impl, TuneImplementation)
        inputs = dict(record.inputs or {})
        name = str(inputs.pop(STUDY_INPUT, ""))
        unit.status = T.RUNNING
        unit.inputs = inputs
        self._notify("task", unit)
        self._drive_step(unit, impl, inputs, name, resume=True)

    def _drive_step(
        self,
        unit: Unit,
        impl: TuneImplementation,
        params: dict[str, Any],
        name: str,
        *,
        resume: bool,
    ) -> None:
        record = unit.record
        assert record is not None
        context = StepContext(
            settings=self.settings,
            store=self.store,
            artifacts=self.artifact_store,
            run=self.run,
            path=unit.path,
            impl=impl,
            params=params,
            study=name,
            resume=resume,
            source_root=self.source_root,
            executor=self.executor.name,
            executor_address=getattr(self.executor, "address", None),
            log_path=record.log_path or "",
            wake=self.executor.wake,
        )
        # Started after the batch that records the attempt commits (persist before acting).
        self.steps_to_start.append((unit, context))

    def _start_steps(self) -> None:
        """Start the drivers of the steps recorded in the batch that just committed."""
        for unit, context in self.steps_to_start:
            record = unit.record
            assert record is not None
            try:
                driver = step_driver("tune")(context)
            except Exception as exc:
                with self.store.batch():
                    self._end_step(
                        unit, StepOutcome(T.FAILED, {}, f"the study cannot start: {exc}")
                    )
                continue
            self.steps[record.id] = (unit, driver)
        self.steps_to_start.clear()

    def _poll_steps(self) -> None:
        """Record the end of each step whose driver says it ended."""
        for record_id, (unit, driver) in list(self.steps.items()):
            outcome = driver.poll()
            if outcome is None:
                continue
            del self.steps[record_id]
            self._end_step(unit, outcome)

    def _end_step(self, unit: Unit, outcome: StepOutcome) -> None:
        record = unit.record
        assert record is not None
        outputs = {"parameters": dict(outcome.outputs), "artifacts": {}}
        self.store.tasks.finish_task_run(
            record,
            outcome.status,
            outputs=outputs if outcome.status is T.SUCCEEDED else None,
            error=outcome.error,
        )
        unit.status = outcome.status
        unit.error = outcome.error
        if outcome.status is T.SUCCEEDED:
            unit.params = dict(outcome.outputs)
        self._notify("task", unit)

    def _stop_steps(self, *, record: bool) -> None:
        """Stop every step's study (the run is cancelled, or its engine stops); with
        ``record``, record each step as cancelled."""
        for _, driver in self.steps.values():
            driver.stop()
        for _, driver in self.steps.values():
            driver.wait(STOP_WAIT_SECONDS)
        if record:
            for unit, _ in self.steps.values():
                if unit.record is not None:
                    self.store.tasks.finish_task_run(
                        unit.record, T.CANCELLED, error="run cancelled"
                    )
                    unit.status = T.CANCELLED
        self.steps.clear()
