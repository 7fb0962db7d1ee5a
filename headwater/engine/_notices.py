"""A run's notifications: each event that a pipeline's or a task's notification targets
ask for is written to the outbox, in the transaction of the change it tells of; a sender
delivers it later, outside any transaction (docs/adr/0010)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headwater.engine._units import Unit
from headwater.spec import PipelineSpec
from headwater.states import RunStatus
from headwater.store import MetadataStore, NewNotification


class Notices:
    """Queues one run's notifications in the outbox."""

    def __init__(
        self, store: MetadataStore, spec: PipelineSpec, run_id: str, source_root: str
    ) -> None:
        self.store = store
        self.spec = spec
        self.run_id = run_id
        self.source_root = source_root
        # Told (with no arguments) each time the run queues notifications in the outbox.
        self.on_queue: Callable[[], None] | None = None

    def tell_task(
        self, kind: str, unit: Unit, status: RunStatus, *, error: str | None = None
    ) -> None:
        """Queue a task event for the task's own notification targets (``status``: the
        run's)."""
        targets = [n for n in unit.options.notifications or () if kind in n.on]
        if targets:
            self._queue(targets, kind, status, unit.path, error)

    def tell_run(
        self, kind: str, status: RunStatus, *, task: str | None = None, error: str | None = None
    ) -> None:
        """Queue a run event for the pipeline's notification targets."""
        targets = [n for n in self.spec.notifications if kind in n.on]
        if targets:
            self._queue(targets, kind, status, task, error)

    def _queue(
        self,
        targets: list[Any],
        kind: str,
        status: RunStatus,
        task: str | None,
        error: str | None,
    ) -> None:
        """Write the event to the outbox, in the transaction of the change it tells of; a
        sender delivers it later, outside any transaction (docs/adr/0010)."""
        payload = {
            "kind": kind,
            "pipeline": self.spec.name,
            "run_id": self.run_id,
            "status": str(status),
            "task": task,
            "error": error,
        }
        self.store.outbox.add(
            [
                NewNotification(
                    run_id=self.run_id,
                    pipeline=self.spec.name,
                    event=kind,
                    task=task,
                    target=target.model_dump(mode="json"),
                    payload=payload,
                    source_root=self.source_root,
                )
                for target in targets
            ]
        )
        if self.on_queue is not None:
            self.on_queue()
