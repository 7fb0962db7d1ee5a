"""The executors Headwater has, by name."""

from __future__ import annotations

from collections.abc import Callable

from headwater.errors import ConfigurationError
from headwater.executors._base import Executor
from headwater.executors._local import LocalExecutor

# Each is called with ``max_parallel`` (None: as many as the machine has CPUs).
EXECUTORS: dict[str, Callable[[int | None], Executor]] = {"local": LocalExecutor}


def make_executor(kind: str = "local", *, max_parallel: int | None = None) -> Executor:
    """A new executor of ``kind`` running at most ``max_parallel`` tasks at once."""
    cls = EXECUTORS.get(kind)
    if cls is None:
        raise ConfigurationError(
            f"unknown executor '{kind}'",
            hint=f"use one of: {', '.join(sorted(EXECUTORS))}",
        )
    return cls(max_parallel)
