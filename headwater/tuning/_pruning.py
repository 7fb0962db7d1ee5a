"""What a trial's driver thread runs its trials on: an executor kept open from one trial
to the next, and, when the study prunes, the step reports of the objective task read
while it runs (see :mod:`headwater.tuning._study`)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.executors import ExecEvent, Executor, TaskRequest

if TYPE_CHECKING:
    import optuna

    from headwater.engine import Engine

# The variable a task's log_metric reads to append its step reports (headwater.sdk).
STEP_REPORTS = "HEADWATER_STEP_REPORTS"
# How often a trial's step reports are read while its task runs, when pruning.
POLL_SECONDS = 0.05


class KeptExecutor:
    """The thread's executor, kept open from one trial to the next (the engine closes the
    executor it drove at the end of each run: here that only ends the trial). While a
    trial is pruned, its task's step reports are read as the engine waits for events."""

    def __init__(self, inner: Executor, reports: Path) -> None:
        self.inner = inner
        self.reports = reports
        self.watch: StepWatch | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def submit(self, request: TaskRequest) -> None:
        watch = self.watch
        if watch is not None and request.env.get("HEADWATER_TASK") == watch.task:
            path = str(self.reports / f"{request.id}.steps")
            watch.files.append(path)
            request = dataclasses.replace(request, env={**request.env, STEP_REPORTS: path})
        self.inner.submit(request)

    def events(self, timeout: float | None) -> list[ExecEvent]:
        watch = self.watch
        if watch is None or not watch.files:
            return self.inner.events(timeout)
        wait = POLL_SECONDS if timeout is None else min(timeout, POLL_SECONDS)
        events = self.inner.events(wait)
        watch.poll()
        return events

    def close(self) -> None:
        self.watch = None

    def shut(self) -> None:
        self.inner.close()


class StepWatch:
    """The step reports of one pruned trial's objective task."""

    def __init__(self, trial: optuna.trial.Trial, task: str, metric: str) -> None:
        self.trial = trial
        self.task = task
        self.metric = metric
        self.files: list[str] = []
        self.read: dict[str, int] = {}
        self.engine: Engine | None = None
        self.pruned = False

    def poll(self) -> None:
        if self.pruned or self.engine is None:
            return
        for path in self.files:
            try:
                with open(path, encoding="utf-8") as f:
                    f.seek(self.read.get(path, 0))
                    text = f.read()
            except OSError:
                continue
            end = text.rfind("\n") + 1  # a line still being written is read next time
            self.read[path] = self.read.get(path, 0) + len(text[:end].encode())
            for line in text[:end].splitlines():
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    point = json.loads(line)
                    if point["key"] == self.metric:
                        self.trial.report(float(point["value"]), int(point["step"]))
            if self.trial.should_prune():
                self.pruned = True
                self.engine.request_cancel()
                return

    def tidy(self) -> None:
        for path in self.files:
            with contextlib.suppress(OSError):
                os.unlink(path)
