"""Adaptive batching: requests to one model version gathered in the front, predicted once.

A model version served with ``--max-batch-size N --max-batch-wait-ms M`` (or loaded with
the repository API's ``max_batch_size`` and ``max_batch_wait_ms`` parameters) does not
send each request to a worker as it comes: requests that fit together wait until ``N``
of them are there or the first has waited ``M`` ms, whichever comes first; their inputs
are concatenated along the first dimension, sent to a worker as one call, and the
outputs are split back by each request's row count. Each request keeps its own id and
its own answer (and its own error, should the batch fail).

Requests fit together when they send the same inputs (names, datatypes, every dimension
but the first), want the same outputs and carry the same parameters; the others wait in
a batch of their own. A request with a 0-dimensional input is never batched. Only a
model whose rows are independent may batch (``ModelMetadata.batchable``: scikit-learn,
XGBoost, LightGBM, ONNX graphs with a free first dimension, and Python predictors that
say ``batchable = True``); asking for it on another is refused when the model loads.

Batching lives in the front, not in the workers: the front is where requests meet, a
batch goes to the least busy worker like any request, and a worker stays one request in,
one answer out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from headwater.errors import ServingError
from headwater.serving._types import Output

Inputs = dict[str, np.ndarray[Any, Any]]
Run = Callable[[Inputs, dict[str, Any], list[str] | None], Awaitable[list[Output]]]

#: The most requests one batch may hold, and the longest wait (ms) one may ask for.
MAX_BATCH_SIZE = 4096
MAX_BATCH_WAIT_MS = 10_000.0
#: The wait when a batch size is given without one.
DEFAULT_WAIT_MS = 5.0


@dataclass(frozen=True, slots=True)
class Batching:
    """How a served model version batches: up to ``max_size`` requests, waiting at most
    ``max_wait_ms`` for them. ``max_size`` 1: no batching (the default)."""

    max_size: int = 1
    max_wait_ms: float = DEFAULT_WAIT_MS

    @property
    def on(self) -> bool:
        return self.max_size > 1

    def check(self) -> Batching:
        """Itself, or a :class:`ServingError` (400) that says which value is wrong."""
        if isinstance(self.max_size, bool) or not isinstance(self.max_size, int):
            raise ServingError(400, f"max_batch_size {self.max_size!r} is not a whole number")
        if not 1 <= self.max_size <= MAX_BATCH_SIZE:
            raise ServingError(
                400,
                f"max_batch_size {self.max_size} is out of range",
                hint=f"use 1 (no batching) to {MAX_BATCH_SIZE}",
            )
        wait = self.max_wait_ms
        if isinstance(wait, bool) or not isinstance(wait, int | float):
            raise ServingError(400, f"max_batch_wait_ms {wait!r} is not a number")
        if not 0 <= wait <= MAX_BATCH_WAIT_MS:
            raise ServingError(
                400,
                f"max_batch_wait_ms {wait} is out of range",
                hint=f"use 0 to {MAX_BATCH_WAIT_MS:.0f} milliseconds",
            )
        return self

    @classmethod
    def from_parameters(cls, parameters: dict[str, Any]) -> Batching | None:
        """The batching the repository API's load parameters ask for; None: not asked."""
        size = parameters.get("max_batch_size")
        wait = parameters.get("max_batch_wait_ms")
        if size is None and wait is None:
            return None
        if size is None:
            raise ServingError(400, "max_batch_wait_ms is given without max_batch_size")
        return cls(size, DEFAULT_WAIT_MS if wait is None else wait).check()


def refuse_unbatchable(label: str, platform: str) -> ServingError:
    return ServingError(
        400,
        f"{label} cannot batch requests: its runtime ({platform}) does not say that its rows "
        "are independent",
        hint="serve it without --max-batch-size (max_batch_size), or give the predictor "
        "class `batchable = True` if each output row depends on its input row alone",
    )


@dataclass(slots=True)
class _Pending:
    parameters: dict[str, Any]
    wanted: list[str] | None
    items: list[tuple[Inputs, asyncio.Future[list[Output]]]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


def _key(inputs: Inputs, parameters: dict[str, Any], wanted: list[str] | None) -> Hashable:
    """What requests must share to go in one batch; None: this one cannot be batched."""
    shapes = []
    rows = {array.shape[0] if array.ndim else None for array in inputs.values()}
    if None in rows or len(rows) != 1:  # a scalar, or inputs of different row counts
        return None
    for name, array in inputs.items():
        shapes.append((name, array.dtype.str, array.shape[1:]))
    return (
        tuple(shapes),
        tuple(wanted) if wanted is not None else None,
        repr(sorted(parameters.items())),
    )


class Batcher:
    """Gathers requests for ``run`` (one call on a worker) as ``batching`` says;
    ``on_batch`` hears the size of each batch sent."""

    def __init__(
        self, batching: Batching, run: Run, on_batch: Callable[[int], None] | None = None
    ) -> None:
        self.batching = batching
        self._run = run
        self._on_batch = on_batch
        self._pending: dict[Hashable, _Pending] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def infer(
        self, inputs: Inputs, parameters: dict[str, Any], wanted: list[str] | None
    ) -> list[Output]:
        key = _key(inputs, parameters, wanted)
        if key is None:
            if self._on_batch is not None:
                self._on_batch(1)
            return await self._run(inputs, parameters, wanted)
        loop = asyncio.get_running_loop()
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending(parameters, wanted)
            pending.timer = loop.call_later(
                self.batching.max_wait_ms / 1000, self._flush, key, pending
            )
        future: asyncio.Future[list[Output]] = loop.create_future()
        pending.items.append((inputs, future))
        if len(pending.items) >= self.batching.max_size:
            self._flush(key, pending)
        return await future

    def _flush(self, key: Hashable, pending: _Pending) -> None:
        if self._pending.get(key) is not pending:
            return
        del self._pending[key]
        if pending.timer is not None:
            pending.timer.cancel()
        task = asyncio.get_running_loop().create_task(self._answer(pending))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, pending: _Pending) -> None:
        items = [(x, f) for x, f in pending.items if not f.done()]  # cancelled: left out
        if not items:
            return
        if self._on_batch is not None:
            self._on_batch(len(items))
        try:
            if len(items) == 1:
                answers = [await self._run(items[0][0], pending.parameters, pending.wanted)]
            else:
                answers = await self._batch([x for x, _ in items], pending)
        except BaseException as e:
            error = e if isinstance(e, ServingError | asyncio.CancelledError) else None
            for _, future in items:
                if not future.done():
                    if error is None:
                        future.set_exception(ServingError(500, f"the batch failed: {e}"))
                    else:
                        future.set_exception(error)
            if isinstance(e, asyncio.CancelledError):
                raise
            return
        for (_, future), answer in zip(items, answers, strict=True):
            if not future.done():
                future.set_result(answer)

    async def _batch(self, requests: list[Inputs], pending: _Pending) -> list[list[Output]]:
        names = list(requests[0])
        joined = {name: np.concatenate([r[name] for r in requests]) for name in names}
        rows = [len(next(iter(r.values()))) for r in requests]
        total = sum(rows)
        outputs = await self._run(joined, pending.parameters, pending.wanted)
        bounds = np.cumsum(rows)[:-1]
        split: list[list[Output]] = [[] for _ in requests]
        for name, datatype, array in outputs:
            if array.ndim == 0 or array.shape[0] != total:
                raise ServingError(
                    500,
                    f"output '{name}' of a batch of {total} rows has shape "
                    f"{list(array.shape)}: a batching model must answer one row per input row",
                )
            for answer, part in zip(split, np.split(array, bounds), strict=True):
                answer.append((name, datatype, part))
        return split

    async def close(self) -> None:
        """Send what is waiting now, and wait for the batches in progress."""
        for key, pending in list(self._pending.items()):
            self._flush(key, pending)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
