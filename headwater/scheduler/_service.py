"""The scheduler process: create due runs, claim runs, drive them, over and over."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from headwater.engine import Workspace
from headwater.notify import Sender
from headwater.scheduler._loop import scheduler_pass
from headwater.scheduler._runner import Runner
from headwater.store import DATABASE_FAILURES, RunRecord, failure_cause

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
        # Delivers the notifications the engines of this process (and any other) queue.
        self.sender = Sender(ws.store)
        self.on_created = on_created
        self.on_claimed = on_claimed
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._last_tick = 0.0
        # When the next time-scheduled run falls due: a pass runs then, not a poll later.
        self._next_due: datetime | None = None

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
        stamp = now or datetime.now(UTC)
        due_now = self._next_due is not None and stamp >= self._next_due
        if due_now or clock - self._last_tick >= self.interval:
            self._last_tick = clock
            created, self._next_due = self._passes(stamp)
            for run in created:
                if self.on_created is not None:
                    self.on_created(run)
        for run_id in self.runner.poll():
            if self.on_claimed is not None:
                self.on_claimed(run_id)
        return created

    def _passes(self, stamp: datetime) -> tuple[list[RunRecord], datetime | None]:
        """A pass over every namespace's schedules: the runs created, and when the next
        scheduled run falls due in any of them."""
        created: list[RunRecord] = []
        due: list[datetime] = []
        for namespace in self.ws.store.namespaces.names():
            made, next_due = scheduler_pass(self.ws.scoped(namespace), stamp)
            created += made
            if next_due is not None:
                due.append(next_due)
        return created, min(due, default=None)

    def serve(self) -> None:
        """Run until :meth:`stop`; runs still going are left to finish in their threads."""
        from headwater._limits import limits
        from headwater.engine import warm_renderer

        self.runner.warm()
        warm_renderer(limits().max_render_memory_bytes)  # scheduled runs' templates
        self.sender.start()
        while not self._stop.is_set():
            try:
                self.step()
            except DATABASE_FAILURES as exc:
                # The database went away for a moment: say so, without a traceback.
                log.warning(
                    "scheduler pass failed: the database failed (%s); trying again",
                    failure_cause(exc),
                )
                time.sleep(1.0)
            except Exception:  # a bug must not kill the scheduler either
                log.exception("scheduler pass failed; trying again")
                time.sleep(1.0)
            self._wake.wait(self._sleep())
            self._wake.clear()

    def _sleep(self) -> float:
        """Until the next poll, or sooner when a scheduled run falls due before it."""
        wait = self.poll_every
        if self._next_due is not None:
            wait = min(wait, max(0.0, (self._next_due - datetime.now(UTC)).total_seconds()))
        return wait

    def close(self) -> None:
        self.runner.close()
        # What the runs just driven queued goes out before the process leaves.
        self.sender.stop(drain=self.sender.settings.lease_seconds)
