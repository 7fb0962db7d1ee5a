"""The driver of a tune step: the study a pipeline's step starts, driven beside its run.

The engine records the step's attempt (with the study's name) and asks
:func:`drive_tune_step` for a driver (docs/adr/0020). The driver starts the study, or goes
on with it when the engine resumes a run, on a thread of its own, writes a line per trial
to the step's log, and tells the engine the outcome: the best trial's parameters, value
and run, or why the study gave none.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from headwater.engine import StepOutcome, Workspace
from headwater.errors import HeadwaterError, NotFound
from headwater.states import TaskStatus
from headwater.store import MetadataStore
from headwater.tuning._settings import STUDY_DONE, StudyStatus, TrialState
from headwater.tuning._study import (
    StudyResult,
    TrialEvent,
    Tuner,
    resume_study,
    start_study,
    study_result,
)

if TYPE_CHECKING:
    from headwater.engine import StepContext

log = logging.getLogger("headwater.tuning")


def drive_tune_step(context: StepContext) -> TuneStepDriver:
    """Start driving the study of one tune step; the engine polls the driver."""
    return TuneStepDriver(context)


class TuneStepDriver:
    """One tune step's study, on a thread of its own."""

    def __init__(self, context: StepContext) -> None:
        self.context = context
        self.lock = threading.Lock()
        self.tuner: Tuner | None = None
        self.stopping = False
        self.outcome: StepOutcome | None = None
        self.ended = threading.Event()
        self.thread = threading.Thread(
            target=self._main, name=f"tune-step-{context.path}", daemon=True
        )
        self.thread.start()

    # ------------------------------------------------------------------ the engine's side

    def poll(self) -> StepOutcome | None:
        return self.outcome if self.ended.is_set() else None

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
            tuner = self.tuner
        if tuner is not None:
            tuner.interrupt()

    def wait(self, seconds: float) -> bool:
        return self.ended.wait(seconds)

    # ------------------------------------------------------------------ the study's side

    def _hold(self, tuner: Tuner) -> None:
        with self.lock:
            self.tuner = tuner
            stopping = self.stopping
        if stopping:
            tuner.interrupt()

    def _main(self) -> None:
        ctx = self.context
        try:
            log_path = Path(ctx.log_path or os.devnull)
            if ctx.log_path:
                log_path.parent.mkdir(parents=True, exist_ok=True)
            with log_path.open("a", encoding="utf-8") as out:
                result = self._study(out)
            self.outcome = self._outcome(result)
        except HeadwaterError as exc:
            message = exc.message + (f" ({exc.hint})" if exc.hint else "")
            self.outcome = StepOutcome(TaskStatus.FAILED, {}, f"study {ctx.study}: {message}")
        except Exception as exc:  # a bug: the step fails, saying so, and the run goes on
            log.exception("tune step %s of run %s", ctx.path, ctx.run.id)
            self.outcome = StepOutcome(
                TaskStatus.FAILED, {}, f"study {ctx.study}: {type(exc).__name__}: {exc}"
            )
        finally:
            self.ended.set()
            ctx.wake()

    def _study(self, out: IO[str]) -> StudyResult:
        ctx = self.context
        impl = ctx.impl
        ws = Workspace(
            ctx.settings, MetadataStore(ctx.store.engine, ctx.store.namespace), ctx.artifacts
        )

        def tell(event: TrialEvent) -> None:
            stamp = datetime.now(UTC).strftime("%H:%M:%S")
            value = f" value={event.value:g}" if event.value is not None else ""
            run = f" run {event.run_id}" if event.run_id else ""
            out.write(f"{stamp} trial {event.number} {event.state}{value}{run} {event.params}\n")
            out.flush()

        if ctx.resume:
            try:
                record = ws.store.studies.get_study(ctx.study)
            except NotFound:
                record = None  # the engine stopped before the study was recorded
            if record is not None:
                out.write(f"resuming study {ctx.study}\n")
                if record.status in STUDY_DONE:
                    return study_result(ws.store, ctx.study)  # it ended; not recorded yet
                return resume_study(ws, ctx.study, observer=tell, on_tuner=self._hold)
        out.write(
            f"study {ctx.study}: {impl.trials} trials of pipeline '{impl.pipeline.name}', "
            f"{impl.parallel} at a time, {impl.direction} {impl.objective}\n"
        )
        out.flush()
        return start_study(
            ws,
            impl.pipeline,
            source_root=ctx.source_root,
            space=dict(impl.space),
            objective=impl.objective,
            direction=impl.direction,
            trials=impl.trials,
            parallel=impl.parallel,
            sampler=impl.sampler,
            pruner=impl.pruner,
            name=ctx.study,
            seed=impl.seed,
            max_failed=impl.max_failed,
            goal=impl.goal,
            params=ctx.params,
            cache=impl.cache,
            observer=tell,
            executor=ctx.executor,
            ray_address=ctx.executor_address,
            confined=ctx.run.confined,
            on_tuner=self._hold,
        )

    def _outcome(self, result: StudyResult) -> StepOutcome:
        best = result.best_trial
        name = result.name
        if result.status is StudyStatus.INTERRUPTED:
            return StepOutcome(TaskStatus.CANCELLED, {}, f"study {name} was stopped")
        if result.status is StudyStatus.FAILED or best is None:
            counts = ", ".join(
                f"{result.count(state)} {state}"
                for state in (TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED)
            )
            why = (
                "too many trials failed"
                if result.status is StudyStatus.FAILED
                else "no trial completed"
            )
            return StepOutcome(
                TaskStatus.FAILED,
                {},
                f"study {name} gave no best trial: {why} ({counts}); see its trials with "
                f"'headwater studies show {name}'",
            )
        return StepOutcome(
            TaskStatus.SUCCEEDED,
            {
                "best_params": dict(best.params),
                "best_value": best.value,
                "best_run_id": best.run_id,
                "study": name,
            },
        )
