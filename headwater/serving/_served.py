"""A served model version: its workers, its state, and where each request goes.

A request is checked against the model's metadata in the front, then sent to the ready
worker holding the fewest requests. When no worker is ready (all restarting), a request
waits up to :data:`READY_WAIT` seconds for one before it is refused with a 503.

This is the seam later slices build on: a deployment routes between served versions
(canary, shadow, an alias move that loads the new version before it drains the old).
A version served with adaptive batching (``_batching``) gathers its checked requests
into batches here, before a worker is chosen: a batch is one call on one worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from headwater.errors import ServingError
from headwater.serving._batching import Batcher, Batching, refuse_unbatchable
from headwater.serving._checks import check_request
from headwater.serving._launch import Launcher
from headwater.serving._limits import Limits
from headwater.serving._types import (
    InferRequest,
    LoadSpec,
    ModelMetadata,
    ModelState,
    Output,
    WorkerState,
)
from headwater.serving._workers import Worker

#: How long a request waits for a worker of its model to be ready (one restarting).
READY_WAIT = 30.0
_WAITING = (WorkerState.STARTING, WorkerState.RESTARTING)


class ServedVersion:
    """One registered model version, loaded in ``count`` worker processes."""

    def __init__(
        self,
        spec: LoadSpec,
        count: int,
        ref: str,
        launcher: Launcher,
        batching: Batching | None = None,
        on_batch: Callable[[ServedVersion, int], None] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.spec = spec
        self.ref = ref
        #: Its request timeout (changed in place by a load) and its workers' memory limit.
        self.limits = limits or Limits()
        self.workers = [Worker(spec, i, launcher, self.limits.memory_mb) for i in range(count)]
        self.metadata: ModelMetadata | None = None
        self.unloading = False
        self._turn = 0
        self.batching = batching or Batching()
        self._on_batch = on_batch
        self._batcher: Batcher | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> str:
        return str(self.spec.version)

    @property
    def label(self) -> str:
        return self.spec.label

    async def load(self) -> None:
        """Start every worker; a :class:`ServingError` (and no worker left) if any fails."""
        results = await asyncio.gather(*(w.start() for w in self.workers), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            await self.close()
            first = failures[0]
            raise first if isinstance(first, ServingError) else ServingError(500, str(first))
        self.metadata = next(r for r in results if isinstance(r, ModelMetadata))
        try:
            self.set_batching(self.batching)
        except ServingError:
            await self.close()
            raise

    def set_batching(self, batching: Batching) -> None:
        """Batch requests from now on as ``batching`` says (a loaded model only); a 400
        when the model's rows are not independent."""
        assert self.metadata is not None
        if batching.on and not self.metadata.batchable:
            raise refuse_unbatchable(self.label, self.metadata.platform)
        self.batching = batching
        if not batching.on:
            self._batcher = None
            return
        on_batch = self._on_batch
        self._batcher = Batcher(
            batching, self._call, (lambda size: on_batch(self, size)) if on_batch else None
        )

    @property
    def state(self) -> ModelState:
        if self.unloading:
            return ModelState.UNLOADING
        if self.metadata is None:
            return ModelState.LOADING
        if any(w.state is WorkerState.READY for w in self.workers):
            return ModelState.READY
        return ModelState.UNAVAILABLE

    @property
    def reason(self) -> str:
        if self.state is not ModelState.UNAVAILABLE:
            return ""
        return next((w.reason for w in self.workers if w.reason), "")

    async def _worker(self) -> Worker:
        while True:
            ready = [w for w in self.workers if w.state is WorkerState.READY]
            if ready:
                # The least busy; among equals, each in turn.
                self._turn += 1
                start = self._turn % len(ready)
                return min(ready[start:] + ready[:start], key=lambda w: w.in_flight)
            if self.unloading:
                raise ServingError(503, f"{self.label} is being unloaded")
            waiting = [w for w in self.workers if w.state in _WAITING]
            if not waiting:
                raise ServingError(503, f"{self.label} is not available: {self.reason}")
            waits = [asyncio.ensure_future(w.ready.wait()) for w in waiting]
            try:
                done, _ = await asyncio.wait(
                    waits, timeout=READY_WAIT, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for wait in waits:
                    wait.cancel()
            if not done:
                raise ServingError(
                    503,
                    f"{self.label} is not ready ({self.reason or 'starting'}) after "
                    f"{READY_WAIT:.0f} seconds",
                )

    async def infer(self, request: InferRequest) -> list[Output]:
        """Check ``request`` against the model and answer it on one of its workers."""
        if self.metadata is None:
            raise ServingError(503, f"{self.label} is still loading")
        check_request(self.label, self.metadata, request)
        wanted = [o.name for o in request.outputs] if request.outputs is not None else None
        parameters: dict[str, Any] = request.parameters
        if self._batcher is not None:
            return await self._batcher.infer(request.inputs, parameters, wanted)
        if self._on_batch is not None:
            self._on_batch(self, 1)
        return await self._call(request.inputs, parameters, wanted)

    async def _call(
        self, inputs: dict[str, Any], parameters: dict[str, Any], wanted: list[str] | None
    ) -> list[Output]:
        worker = await self._worker()
        return await worker.call(inputs, parameters, wanted, self.limits.request_timeout)

    async def close(self) -> None:
        self.unloading = True
        if self._batcher is not None:
            await self._batcher.close()
        await asyncio.gather(*(w.close() for w in self.workers))
