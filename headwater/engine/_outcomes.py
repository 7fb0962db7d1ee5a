"""How an attempt ended, read from what its task process left: its task output file, its
exit status, and what the executor knows about its end."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from headwater.executors import Stopped
from headwater.states import TaskStatus

T = TaskStatus


def read_output(path: Path) -> dict[str, Any]:
    """The task output at ``path``, or ``{}`` when there is none (the task process writes
    it in one rename, so a file that parses is complete)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def task_error(result: dict[str, Any]) -> dict[str, Any] | None:
    """The error a task output reports (an exception from the user's code), if any."""
    error = (result.get("headwater") or {}).get("error")
    return error if isinstance(error, dict) else None


def finished(result: dict[str, Any]) -> bool:
    """Whether a task output says the function returned and its outputs were written."""
    return bool(result) and task_error(result) is None


def started(status: TaskStatus, pid: int | None, log_path: str | None) -> bool:
    """Whether an attempt that was queued or running may have started a process.

    A process is started only after its log file is created (the executor opens it, or
    the forked task process does, first thing), so an attempt without a pid and without
    a log file never ran. A waiting attempt (no pool slot yet) never did.
    """
    if status is T.WAITING:
        return False
    if status is not T.QUEUED or pid is not None:
        return True
    return log_path is None or os.path.exists(log_path)


def describe_failure(
    status: int,
    error: dict[str, Any] | None,
    *,
    stopped: Stopped | None = None,
    timeout: float | None = None,
    peak_rss: int | None = None,
    memory: int = 0,
    oom: str | None = None,
) -> str:
    """Why an attempt failed, in words: why the executor stopped it (``stopped``, with the
    attempt's ``timeout`` and ``memory`` request and its ``peak_rss``), the user's
    exception, or how its process ended (``oom``: the executor's evidence that memory ran
    out)."""
    if stopped is Stopped.MEMORY_EXCEEDED:
        return (
            f"out of memory: used {(peak_rss or 0) / 2**20:.0f} MiB, more than its memory "
            f"request of {memory / 2**20:.0f} MiB, and was killed; raise memory= or use less"
        )
    if stopped is Stopped.TIMEOUT:
        return f"timed out after {timeout or 0:g}s and was killed"
    if stopped is Stopped.CANCELLED:
        return "cancelled, and its process was killed"
    if error:
        text = f"{error.get('type', 'Error')}: {error.get('message', '')}"
        tb = error.get("traceback") or ""
        if tb:
            text += "\n" + tb.rstrip()
        return text
    if status < 0:
        name = signal.Signals(-status).name if -status in signal.valid_signals() else str(-status)
        if -status != signal.SIGKILL:
            return f"the task process was killed by {name}"
        if oom:
            return f"the task process was killed by {name} (out of memory? {oom})"
        return f"the task process was killed by {name} (by another process or the system)"
    return f"the task process exited with code {status} without writing its output"


def describe_lost(reason: str) -> str:
    """Why an attempt whose worker died failed (``reason``: the executor's account)."""
    return f"{reason} while this attempt ran; its task process was stopped before it finished"
