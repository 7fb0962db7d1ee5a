"""Where task processes run: ``local`` (processes on this machine), later Ray and Kubernetes."""

from headwater.executors._base import ExecEvent, Executor, Resources, TaskRequest
from headwater.executors._local import LocalExecutor

__all__ = ["ExecEvent", "Executor", "LocalExecutor", "Resources", "TaskRequest"]
