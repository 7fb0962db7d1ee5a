"""Where task processes run: ``local`` (processes on this machine), later Ray and Kubernetes."""

from headwater.executors._base import ExecEvent, Executor, Resources, TaskRequest
from headwater.executors._environment import ALLOW_SETTING, allowed_patterns, task_environment
from headwater.executors._local import LocalExecutor
from headwater.executors._processes import kill_task_group, processes_writing_to

__all__ = [
    "ALLOW_SETTING",
    "ExecEvent",
    "Executor",
    "LocalExecutor",
    "Resources",
    "TaskRequest",
    "allowed_patterns",
    "kill_task_group",
    "processes_writing_to",
    "task_environment",
]
