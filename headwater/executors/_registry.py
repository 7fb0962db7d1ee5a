"""The executors Headwater has, by name: how to make each, and which task options each
cannot honour (asked before a run starts, without making one)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from headwater.errors import ConfigurationError
from headwater.executors._base import Executor
from headwater.executors._local import LocalExecutor


@dataclass(frozen=True)
class ExecutorKind:
    """One executor Headwater has.

    ``make`` is called with ``max_parallel`` (None: as many as the machine has CPUs);
    ``refuse`` is the kind's :meth:`Executor.refuse`, which reads no state, so a server
    can refuse a run before any executor is made (an executor may need a cluster).
    """

    make: Callable[[int | None], Executor]
    refuse: Callable[[str, object], str | None]


EXECUTORS: dict[str, ExecutorKind] = {
    "local": ExecutorKind(LocalExecutor, LocalExecutor.refuse),
}


def executor_kind(kind: str | None = None) -> str:
    """The name of the executor ``kind`` (None: the one a process uses when its caller
    names none, ``local``); an unknown name is refused with the known ones."""
    name = "local" if kind is None else kind
    if name not in EXECUTORS:
        raise ConfigurationError(
            f"unknown executor '{name}'",
            hint=f"use one of: {', '.join(sorted(EXECUTORS))}",
        )
    return name


def make_executor(kind: str | None = None, *, max_parallel: int | None = None) -> Executor:
    """A new executor of ``kind`` (see :func:`executor_kind`) running at most
    ``max_parallel`` tasks at once."""
    return EXECUTORS[executor_kind(kind)].make(max_parallel)
