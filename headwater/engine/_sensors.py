"""Sensors in the engine: waits that hold no process and no slot (docs/sensors-and-events.md).

A built-in wait (``TriggerImplementation``) is recorded ``deferred`` and handed to the
process's triggerer, which runs its check on its interval; what ends the wait comes back
on :attr:`fired` and is recorded in the engine's loop. An ``@sensor`` function's attempt
is a task attempt like any other, but a poke that says "not yet" puts the same attempt
back to ``deferred`` until its next poke, which queues it again (Airflow's reschedule
mode): between pokes it holds no process, task slot or pool slot.

The wait's timeout counts from the attempt's creation (so an engine that resumes the run
keeps the same deadline); a wait that times out fails the task, or skips it with
``soft_fail``. An engine that resumes a run re-arms its deferred attempts from the store.
"""

from __future__ import annotations

import queue
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from headwater.engine._checks import CheckContext, make_check
from headwater.engine._state import RunState
from headwater.engine._triggerer import Fired, Wait, triggerer
from headwater.engine._units import Unit, jsonable
from headwater.errors import HeadwaterError
from headwater.spec import ComponentSpec, SensorPolicy, TriggerImplementation
from headwater.states import TaskStatus

T = TaskStatus


def _when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _interval(policy: SensorPolicy, checks: int) -> float:
    """The wait before the check after ``checks`` false ones."""
    base = policy.poke_interval_seconds or 60.0
    if not policy.exponential_backoff or checks <= 0:
        return base
    top = policy.max_interval_seconds or base
    return float(min(base * 2.0 ** min(checks - 1, 40), top))


def _timed_out(policy: SensorPolicy, checks: int) -> str:
    return (
        f"the condition did not hold within its timeout of {policy.timeout_seconds:g}s "
        f"({checks} check(s))"
    )


class Sensors(RunState):
    """Deferred waits (a part of the engine)."""

    def _init_sensors(self) -> None:
        # Built-in waits being checked, by attempt id; their ends, put by the triggerer.
        self.deferred: dict[str, Unit] = {}
        self.fired: queue.SimpleQueue[Fired] = queue.SimpleQueue()
        # Attempts recorded deferred in the batch being written: handed to the triggerer
        # once it commits.
        self.waits_to_start: list[Wait] = []
        # @sensor attempts between pokes, by attempt id: poked again at unit.retry_at.
        self.resting: dict[str, Unit] = {}

    # ------------------------------------------------------------------ built-in waits

    def _policy(self, unit: Unit) -> SensorPolicy:
        options = self.plan.options(unit.node)
        return (options.sensor or SensorPolicy()).resolved()

    def _wait_deadline(self, unit: Unit, policy: SensorPolicy) -> float:
        record = unit.record
        assert record is not None
        return record.created_at.timestamp() + (policy.timeout_seconds or 0.0)

    def _defer(self, unit: Unit, comp: ComponentSpec, values: dict[str, Any]) -> None:
        """Start a built-in wait (or, for an attempt an earlier engine left deferred, go
        on with it): the attempt is recorded deferred, and checked once that commits."""
        impl = comp.implementation
        assert isinstance(impl, TriggerImplementation)
        policy = self._policy(unit)
        unit.options = self.plan.options(unit.node)
        if unit.status is not T.DEFERRED or unit.record is None:
            unit.attempt += 1
            unit.record = self.store.tasks.add_task_run(
                self.run.id,
                unit.path,
                unit.name,
                unit.node.component,
                unit.attempt,
                T.DEFERRED,
                inputs=jsonable(values),
            )
            unit.status = T.DEFERRED
            self._notify("task", unit)
        record = unit.record
        unit.inputs = values
        try:
            check, first = make_check(
                impl.check,
                values,
                CheckContext(
                    store=self.store,
                    run=self.run,
                    triggerer=triggerer(),
                    interval=policy.poke_interval_seconds or 60.0,
                    check_uri=self._uri_check() if impl.check == "path" else None,
                ),
            )
        except (ValueError, HeadwaterError) as exc:
            message = exc.message if isinstance(exc, HeadwaterError) else str(exc)
            self._end_wait(unit, T.FAILED, error=f"{unit.node.component}: {message}")
            return
        self.deferred[record.id] = unit
        wake = record.wake_at.timestamp() if record.wake_at is not None else time.time()
        self.waits_to_start.append(
            Wait(
                key=record.id,
                check=check,
                interval=policy.poke_interval_seconds or 60.0,
                deadline=self._wait_deadline(unit, policy),
                fired=self._on_fired,
                backoff=bool(policy.exponential_backoff),
                max_interval=policy.max_interval_seconds or 3600.0,
                first_at=max(wake, first or 0.0),
                checks=record.pokes or 0,
            )
        )

    def _uri_check(self) -> Any:
        """The run's URI policy's check, for a confined run (None otherwise)."""
        if not self.run.confined:
            return None
        from headwater.engine._importing import uri_policy

        return uri_policy(self.settings, self.store).check

    def _on_fired(self, fired: Fired) -> None:
        """On the triggerer's thread: queue the end, and wake the engine's loop."""
        self.fired.put(fired)
        self.executor.wake()

    def _start_waits(self) -> None:
        """Hand the waits recorded in the batch that just committed to the triggerer."""
        if self.waits_to_start:
            shared = triggerer()
            for wait in self.waits_to_start:
                shared.watch(wait)
            self.waits_to_start.clear()

    def _poll_fired(self) -> None:
        """Record the ends of the waits the triggerer reported."""
        while True:
            try:
                fired = self.fired.get_nowait()
            except queue.Empty:
                return
            unit = self.deferred.pop(fired.key, None)
            if unit is None or unit.status is not T.DEFERRED:
                continue
            # ``pokes`` counts the checks that found the condition false.
            if fired.outcome == "done":
                self._end_wait(unit, T.SUCCEEDED, value=fired.value, pokes=fired.checks - 1)
            elif fired.outcome == "failed":
                self._end_wait(unit, T.FAILED, error=fired.error, pokes=fired.checks - 1)
            else:
                self._time_out(unit, fired.checks)

    def _time_out(self, unit: Unit, checks: int) -> None:
        policy = self._policy(unit)
        message = _timed_out(policy, checks)
        status = T.SKIPPED if policy.soft_fail else T.FAILED
        self._end_wait(unit, status, error=message, pokes=checks)

    def _end_wait(
        self,
        unit: Unit,
        status: TaskStatus,
        *,
        value: Any = None,
        error: str | None = None,
        pokes: int | None = None,
    ) -> None:
        record = unit.record
        assert record is not None
        if pokes is not None:
            self.store.tasks.update_task_run(record.id, T.DEFERRED, T.DEFERRED, pokes=pokes)
        comp = self.plan.component(unit.node)
        params = {"output": value} if status is T.SUCCEEDED and "output" in comp.outputs else {}
        self.store.tasks.finish_task_run(
            record,
            status,
            outputs={"parameters": params, "artifacts": {}} if status is T.SUCCEEDED else None,
            error=error,
            current=T.DEFERRED,
        )
        unit.status = status
        unit.error = error
        unit.params = params
        if status is T.SUCCEEDED:
            self._mark_asset(unit)
        self._notify("task", unit)
        if status is T.FAILED:
            self.notices.tell_task("failure", unit, self.run_status, error=error)
        elif status is T.SUCCEEDED:
            self.notices.tell_task("success", unit, self.run_status)

    def _mark_asset(self, unit: Unit) -> None:
        """A sensor whose condition held marks its ``updates`` asset updated (in the
        batch that records its success): the pipelines scheduled on it run."""
        policy = self._policy(unit)
        if policy.updates_asset is None:
            return
        self.store.assets.register_assets([policy.updates_asset])
        self.store.assets.record_external_event(
            policy.updates_asset,
            source=f"sensor {unit.path} of run {self.run.id}"[:256],
            metadata={"run_id": self.run.id, "task": unit.path},
        )

    # ------------------------------------------------------------------ @sensor pokes

    def _not_yet(self, unit: Unit, current: TaskStatus, started: dict[str, Any] | None) -> None:
        """An @sensor poke said "not yet": the attempt rests deferred until its next poke,
        or, past its deadline, times out."""
        record = unit.record
        assert record is not None
        policy = self._policy(unit)
        pokes = (record.pokes or 0) + 1
        self.files.forget_output(record)
        unit.task_input = None
        now = time.time()
        deadline = self._wait_deadline(unit, policy)
        if now >= deadline:
            if started is not None:  # record the poke's start before its end
                self.store.tasks.update_task_run(record.id, current, T.RUNNING, **started)
                current = T.RUNNING
            message = _timed_out(policy, pokes)
            self.store.tasks.finish_task_run(
                record,
                T.SKIPPED if policy.soft_fail else T.FAILED,
                error=message,
                current=current,
            )
            unit.status = T.SKIPPED if policy.soft_fail else T.FAILED
            unit.error = message
            self._notify("task", unit)
            if unit.status is T.FAILED:
                self.notices.tell_task("failure", unit, self.run_status, error=message)
            return
        wake = min(now + _interval(policy, pokes), deadline)
        self.store.tasks.defer_task_run(
            record, wake_at=_when(wake), pokes=pokes, current=current, started=started
        )
        self._rest(unit, wake, pokes)

    def _rest(self, unit: Unit, wake: float, pokes: int) -> None:
        """Keep ``unit`` (deferred) until ``wake``, when its next poke is queued."""
        record = unit.record
        assert record is not None
        unit.record = replace(
            record,
            status=T.DEFERRED,
            wake_at=_when(wake),
            pokes=pokes,
            deferred_at=record.deferred_at or _when(time.time()),
        )
        unit.status = T.DEFERRED
        unit.retry_at = wake
        self.resting[record.id] = unit
        self._notify("task", unit)

    def _poke_due(self, now: float) -> None:
        """Queue the next poke of each resting @sensor attempt whose time came."""
        for record_id, unit in list(self.resting.items()):
            if unit.retry_at is not None and unit.retry_at <= now:
                del self.resting[record_id]
                self._poke(unit)

    def _poke(self, unit: Unit) -> None:
        """Queue the resting attempt again (the same attempt: its pokes are one try)."""
        record = unit.record
        assert record is not None
        status = T.WAITING if self._slot_limited(unit.options) else T.QUEUED
        self.store.tasks.update_task_run(record.id, T.DEFERRED, status)
        unit.record = replace(record, status=status)
        unit.status = status
        unit.retry_at = None
        unit.task_input = self.files.task_input(unit, unit.record, self.plan.component(unit.node))
        self._enqueue(unit)
        self._notify("task", unit)

    def _next_wake(self) -> float | None:
        """When the next resting poke is due, if any."""
        times = [u.retry_at for u in self.resting.values() if u.retry_at is not None]
        return min(times) if times else None

    # ------------------------------------------------------------------ stopping

    def _forget_waits(self) -> None:
        """The engine stops: its waits stop being checked (another engine re-arms them)."""
        if self.deferred:
            shared = triggerer()
            for key in self.deferred:
                shared.forget(key)

    def _cancel_waits(self) -> None:
        """The run is cancelled: every deferred attempt is cancelled."""
        self._forget_waits()
        for unit in [*self.deferred.values(), *self.resting.values()]:
            if unit.record is not None and unit.status is T.DEFERRED:
                self.store.tasks.update_task_run(
                    unit.record.id, T.DEFERRED, T.CANCELLED, error="run cancelled"
                )
                unit.status = T.CANCELLED
        self.deferred.clear()
        self.resting.clear()
