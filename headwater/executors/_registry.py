"""The executors Headwater has, by name: how to make each, and which task options each
cannot honour (asked before a run starts, without making one).

``HEADWATER_EXECUTOR`` names the one a process uses when its caller names none
(``headwater standalone``, ``server`` and ``scheduler``, and ``headwater.run``);
``HEADWATER_RAY_ADDRESS`` (or Ray's own ``RAY_ADDRESS``) the Ray cluster. Ray is imported
only when the Ray executor is made, so Headwater runs without it installed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from headwater.errors import ConfigurationError
from headwater.executors._base import Executor
from headwater.executors._local import LocalExecutor
from headwater.executors._ray_options import ray_refuse

EXECUTOR_SETTING = "HEADWATER_EXECUTOR"


@dataclass(frozen=True)
class ExecutorKind:
    """One executor Headwater has.

    ``make`` is called with ``max_parallel`` (None: as many as the machine or cluster has
    CPUs) and the address of what it runs on (None: its default); ``refuse`` is the
    kind's :meth:`Executor.refuse`, which reads no state, so a server can refuse a run
    before any executor is made (an executor may need a cluster).
    """

    make: Callable[[int | None, str | None], Executor]
    refuse: Callable[[str, object], str | None]


def _local(max_parallel: int | None, address: str | None) -> Executor:
    return LocalExecutor(max_parallel)


def _ray(max_parallel: int | None, address: str | None) -> Executor:
    try:
        from headwater.executors._ray import RayExecutor
    except ImportError as exc:
        raise ConfigurationError(
            f"the Ray executor needs Ray, which cannot be imported here ({exc})",
            hint="install it with: pip install 'headwater[ray]'",
        ) from exc
    return RayExecutor(max_parallel, address=address)


EXECUTORS: dict[str, ExecutorKind] = {
    "local": ExecutorKind(_local, LocalExecutor.refuse),
    "ray": ExecutorKind(_ray, ray_refuse),
}


def executor_kind(kind: str | None = None) -> str:
    """``kind``, else ``HEADWATER_EXECUTOR``, else ``local``; an unknown name is refused
    with the known ones."""
    from_setting = kind is None
    name = (kind if kind is not None else os.environ.get(EXECUTOR_SETTING) or "local").strip()
    if name not in EXECUTORS:
        raise ConfigurationError(
            f"{EXECUTOR_SETTING}={name!r} names an unknown executor"
            if from_setting
            else f"unknown executor '{name}'",
            hint=f"use one of: {', '.join(sorted(EXECUTORS))}",
        )
    return name


def make_executor(
    kind: str | None = None, *, max_parallel: int | None = None, address: str | None = None
) -> Executor:
    """A new executor of ``kind`` (see :func:`executor_kind`) running at most
    ``max_parallel`` tasks at once; ``address`` is the Ray cluster's for ``ray``."""
    return EXECUTORS[executor_kind(kind)].make(max_parallel, address)


def check_executor(kind: str | None = None, *, address: str | None = None) -> str:
    """The name of the executor ``kind`` (default: the setting) once one has been made
    here: an unknown name, a missing Ray or an unreachable cluster is refused now, with a
    ConfigurationError, rather than when the first run starts."""
    name = executor_kind(kind)
    make_executor(name, max_parallel=1, address=address).close()
    return name
