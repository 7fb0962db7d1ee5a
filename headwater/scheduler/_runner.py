"""Driving runs inside a scheduler process: claim them, run each in its own thread.

A :class:`Runner` claims queued runs that nobody drives (created by the API, a
schedule, an asset trigger or a backfill) and runs whose engine went silent (a
scheduler killed mid-run), and drives each with an engine in a thread of this process.
Engines keep their run's heartbeat fresh; a run is adopted only once its heartbeat is
older than ``stale_after`` seconds. A spare task worker is kept warm, so a new run's
first task starts without waiting for an interpreter to boot.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from headwater.engine import Engine, Workspace, execute_run, heartbeat_timeout
from headwater.errors import LostRun, RunError
from headwater.executors import Executor, make_executor
from headwater.store import DATABASE_FAILURES, MetadataStore, failure_cause, new_id

log = logging.getLogger("headwater.scheduler")


@dataclass
class _Driven:
    thread: threading.Thread | None = None
    engines: list[Engine] = field(default_factory=list)


class Runner:
    """Claims runs for this process and drives them, at most ``max_runs`` at once."""

    def __init__(
        self,
        ws: Workspace,
        *,
        owner: str | None = None,
        max_runs: int = 16,
        stale_after: float | None = None,
        max_active_tasks: int | None = None,
        on_end: Callable[[str, str], None] | None = None,
    ) -> None:
        self.ws = ws
        self.owner = owner or new_id()
        self.max_runs = max_runs
        self.stale_after = stale_after if stale_after is not None else heartbeat_timeout()
        self.max_active_tasks = max_active_tasks
        self.on_end = on_end
        self.driven: dict[str, _Driven] = {}
        self._lock = threading.Lock()
        self._spare: Executor | None = None

    def _executor(self) -> Executor:
        """The warm spare worker (a new one is started for the next run)."""
        spare, self._spare = self._spare, None
        if spare is None:
            spare = make_executor()
            spare.warm()
        return spare

    def warm(self) -> None:
        if self._spare is None:
            self._spare = make_executor()
            self._spare.warm()

    def poll(self, now: datetime | None = None) -> list[str]:
        """Claim what there is room for and start driving it; returns the claimed ids."""
        self._reap()
        room = self.max_runs - len(self.driven)
        if room <= 0:
            return []
        stamp = now or datetime.now(UTC)
        stale = stamp - timedelta(seconds=self.stale_after)
        claimed: list[str] = []
        # Every namespace's runs: one scheduler serves the whole installation.
        for namespace in self.ws.store.namespaces.names():
            if room <= 0:
                break
            found = self.ws.store.scoped(namespace).control.claim_runs(self.owner, stale, room)
            for run_id in found:
                self._start(run_id, namespace)
            claimed += found
            room -= len(found)
        self._cancel_requested()
        if claimed:
            self.warm()
        return claimed

    def _start(self, run_id: str, namespace: str) -> None:
        driven = _Driven()
        with self._lock:
            self.driven[run_id] = driven
        executor = self._executor()
        driven.thread = threading.Thread(
            target=self._drive,
            args=(run_id, executor, namespace),
            name=f"run-{run_id}",
            daemon=True,
        )
        driven.thread.start()

    def _drive(
        self, run_id: str, executor: Executor | None = None, namespace: str | None = None
    ) -> None:
        # Each engine gets its own store object (its batches are its own) over the shared
        # connection pool, scoped to the run's namespace (its artifacts go under that
        # namespace's root).
        namespace = namespace or self.ws.store.namespace
        store = MetadataStore(self.ws.store.engine, namespace)
        scoped = self.ws.scoped(namespace)
        ws = Workspace(scoped.settings, store, scoped.artifacts)
        outcome = "error"
        try:
            run = store.runs.get_run(run_id)
            status = execute_run(
                ws,
                run,
                executor=executor,
                owner=self.owner,
                engine_hook=self.driven[run_id].engines.append,
                max_active_tasks=self.max_active_tasks,
                deliver=False,  # this process's sender delivers its notifications
            )
            outcome = str(status)
        except (LostRun, RunError) as exc:  # another engine has it: nothing to write
            log.warning("run %s: %s", run_id, exc)
            outcome = "lost"
        except DATABASE_FAILURES as exc:
            # The database went away (an operational fact, not a bug: no traceback). The
            # run is given back for anyone, this scheduler included, to drive again.
            log.warning(
                "run %s: the database failed (%s); giving the run back",
                run_id,
                failure_cause(exc),
            )
            with contextlib.suppress(Exception):
                store.control.release_run(run_id, self.owner)
        except Exception as exc:  # a bug or a broken version: fail the run, do not loop
            log.exception("run %s stopped with an error", run_id)
            with contextlib.suppress(Exception):
                store.control.fail_run(run_id, self.owner, f"the engine stopped: {exc!r}")
        finally:
            if executor is not None:
                executor.close()
            if self.on_end is not None:
                self.on_end(run_id, outcome)

    def _reap(self) -> None:
        with self._lock:
            for run_id, driven in list(self.driven.items()):
                if driven.thread is not None and not driven.thread.is_alive():
                    del self.driven[run_id]

    def _cancel_requested(self) -> None:
        if not self.driven:
            return
        for run_id in self.ws.store.control.owned_runs_to_cancel(self.owner):
            self.cancel(run_id)

    def cancel(self, run_id: str) -> bool:
        """Cancel a run this process drives, now; False if it drives no such run."""
        driven = self.driven.get(run_id)
        if driven is None:
            return False
        for engine in driven.engines:
            engine.request_cancel()
        return True

    def running(self) -> list[str]:
        self._reap()
        return list(self.driven)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for every run being driven to end."""
        for driven in list(self.driven.values()):
            if driven.thread is not None:
                driven.thread.join(timeout)

    def close(self) -> None:
        if self._spare is not None:
            self._spare.close()
            self._spare = None
