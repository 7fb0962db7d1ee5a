"""The triggerer: one event loop, on one thread of the process, that checks every
deferred wait of every run the process drives (Airflow's triggerer, inside the engine).

A wait is a check (a coroutine that says whether its condition holds, see
``_checks``) repeated on its interval until it holds, fails for good, or its deadline
passes. Waiting costs a coroutine and a timer, not a process or a thread: a thousand
sensors are a thousand sleeping coroutines. What ends a wait is handed to the engine
that asked (its ``fired`` callback, called on the triggerer's thread), which records it
in its own loop.

Checks that block (a stat of a local path, a query, fsspec on a store without an async
client) run on a small pool of threads, so a slow one never holds the loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("headwater.triggerer")

# How many blocking checks run at once (each on a thread of the triggerer's pool).
BLOCKING_CHECKS = 8


@dataclass(frozen=True)
class Checked:
    """What one check found: ``done`` with ``value`` (the sensor's output), or not yet;
    ``error`` ends the wait as a failure at once (a bad argument, a failed upstream run)."""

    done: bool
    value: Any = None
    error: str | None = None


NOT_YET = Checked(False)

Check = Callable[[], Coroutine[Any, Any, Checked]]


@dataclass(frozen=True)
class Fired:
    """How a wait ended: ``outcome`` is ``done``, ``failed`` or ``timeout``."""

    key: str
    outcome: str
    value: Any = None
    error: str | None = None
    checks: int = 0


@dataclass
class Wait:
    """One deferred wait: check every ``interval`` seconds (doubling after each false
    check up to ``max_interval`` with ``backoff``) until ``deadline`` (epoch seconds);
    the first check at ``first_at``."""

    key: str
    check: Check
    interval: float
    deadline: float
    fired: Callable[[Fired], None]
    backoff: bool = False
    max_interval: float = 3600.0
    first_at: float = 0.0
    checks: int = 0


class Triggerer:
    """The process's event loop for deferred waits (see the module's docs)."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.blocking = ThreadPoolExecutor(BLOCKING_CHECKS, thread_name_prefix="headwater-check")
        self._thread = threading.Thread(target=self._run, name="headwater-triggerer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    @property
    def waiting(self) -> int:
        """How many waits are in progress."""
        return len(self._tasks)

    def watch(self, wait: Wait) -> None:
        """Start ``wait`` (a wait with the same key is replaced)."""
        self._loop.call_soon_threadsafe(self._start, wait)

    def forget(self, key: str) -> None:
        """Stop the wait ``key``, if any; it fires nothing."""
        self._loop.call_soon_threadsafe(self._stop, key)

    def check_once(self, check: Check, timeout: float = 30.0) -> Checked:
        """Run ``check`` once on the triggerer's loop and wait for what it found (from a
        thread other than the triggerer's)."""
        return asyncio.run_coroutine_threadsafe(check(), self._loop).result(timeout)

    def run_blocking(self, func: Callable[[], Any]) -> Awaitable[Any]:
        """Run ``func`` on the triggerer's check threads (from a check coroutine)."""
        return self._loop.run_in_executor(self.blocking, func)

    # ------------------------------------------------------------------ on the loop

    def _start(self, wait: Wait) -> None:
        self._stop(wait.key)
        task = self._loop.create_task(self._drive(wait))
        self._tasks[wait.key] = task
        task.add_done_callback(functools.partial(self._done, wait.key))

    def _stop(self, key: str) -> None:
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()

    def _done(self, key: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]

    async def _drive(self, wait: Wait) -> None:
        interval = wait.interval
        delay = wait.first_at - time.time()
        if delay > 0:
            await asyncio.sleep(min(delay, max(0.0, wait.deadline - time.time())))
        while True:
            try:
                checked = await wait.check()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a check's own bug: the wait fails, saying why
                log.exception("a deferred check failed")
                checked = Checked(False, error=f"the check failed: {type(exc).__name__}: {exc}")
            wait.checks += 1
            if checked.error is not None:
                self._fire(wait, Fired(wait.key, "failed", error=checked.error))
                return
            if checked.done:
                self._fire(wait, Fired(wait.key, "done", value=checked.value))
                return
            now = time.time()
            if now >= wait.deadline:
                self._fire(wait, Fired(wait.key, "timeout"))
                return
            await asyncio.sleep(min(interval, wait.deadline - now))
            if wait.backoff:
                interval = min(interval * 2, wait.max_interval)

    def _fire(self, wait: Wait, fired: Fired) -> None:
        fired = Fired(fired.key, fired.outcome, fired.value, fired.error, wait.checks)
        try:
            wait.fired(fired)
        except Exception:  # the engine's callback only queues; never let it kill the loop
            log.exception("a deferred wait's callback failed")


_shared: Triggerer | None = None
_shared_lock = threading.Lock()


def _forget_after_fork() -> None:
    # A forked child has no triggerer thread: it starts its own if it needs one.
    global _shared, _shared_lock
    _shared = None
    _shared_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


def triggerer() -> Triggerer:
    """The process's triggerer, started on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Triggerer()
        return _shared
