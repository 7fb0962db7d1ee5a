"""The scheduler process: create due runs, claim runs, drive them, over and over."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from headwater.engine import Workspace
from headwater.scheduler._loop import tick
from headwater.scheduler._runner import Runner
from headwater.store import RunRecord

log = logging.getLogger("headwater.scheduler")


class SchedulerService:
    """One scheduler: every ``interval`` seconds a pass over the schedules, and every
    ``poll`` seconds (or at once, on :meth:`wake`) a look for runs to drive."""

    def __init__(
        self,
        ws: Workspace,
        *,
        interval: float = 1.0,
        poll: float = 0.2,
        max_runs: int = 16,
        max_active_tasks: int | None = None,
        stale_after: float | None = None,
        on_created: Callable[[RunRecord], None] | None = None,
        on_claimed: Callable[[str], None] | None = None,
    ) -> None:
        self.ws = ws
        self.interval = interval
        self.poll_every = poll
        self.runner = Runner(
            ws, max_runs=max_runs, max_active_tasks=max_active_tasks, stale_after=stale_after
        )
        self.on_created = on_created
        self.on_claimed = on_claimed
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._last_tick = 0.0

    def wake(self) -> None:
        """Look for runs now (a run was just triggered)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def step(self, now: datetime | None = None) -> list[RunRecord]:
        """One pass: create due runs (at most once per ``interval``), then claim runs."""
        created: list[RunRecord] = []
        clock = time.monotonic()
        if clock - self._last_tick >= self.interval:
            self._last_tick = clock
            created = tick(self.ws, now or datetime.now(UTC))
            for run in created:
                if self.on_created is not None:
                    self.on_created(run)
        for run_id in self.runner.poll():
            if self.on_claimed is not None:
                self.on_claimed(run_id)
        return created

    def serve(self) -> None:
        """Run until :meth:`stop`; runs still going are left to finish in their threads."""
        self.runner.warm()
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # a database hiccup must not kill the scheduler
                log.exception("scheduler pass failed; trying again")
                time.sleep(1.0)
            self._wake.wait(self.poll_every)
            self._wake.clear()

    def close(self) -> None:
        self.runner.close()
