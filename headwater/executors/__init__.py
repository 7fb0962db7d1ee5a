"""Where task processes run: ``local`` (processes on this machine) or ``ray`` (Ray tasks
on a Ray cluster, made by :func:`make_executor` only, so that Ray is imported only when
it is used); the engine sees only the :class:`Executor` interface (docs/adr/0012)."""

from headwater.executors._base import (
    KILL_GRACE_SECONDS,
    Environment,
    ExecEvent,
    Executor,
    Report,
    Resources,
    Stopped,
    TaskRequest,
    write_task_input,
)
from headwater.executors._environment import ALLOW_SETTING, allowed_patterns, task_environment
from headwater.executors._learned import LearnedImports, body_imports
from headwater.executors._local import MAX_WORKER_RESTARTS, LocalExecutor
from headwater.executors._registry import (
    EXECUTOR_SETTING,
    EXECUTORS,
    ExecutorKind,
    check_executor,
    executor_kind,
    make_executor,
)

__all__ = [
    "ALLOW_SETTING",
    "EXECUTORS",
    "EXECUTOR_SETTING",
    "KILL_GRACE_SECONDS",
    "MAX_WORKER_RESTARTS",
    "Environment",
    "ExecEvent",
    "Executor",
    "ExecutorKind",
    "LearnedImports",
    "LocalExecutor",
    "Report",
    "Resources",
    "Stopped",
    "TaskRequest",
    "allowed_patterns",
    "body_imports",
    "check_executor",
    "executor_kind",
    "make_executor",
    "task_environment",
    "write_task_input",
]
