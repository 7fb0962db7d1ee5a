"""Task process groups seen from outside: finding, stopping and explaining them.

Every task process leads a session (and process group) of its own, with its output
going to its attempt's log file; the helpers here rely on both.
"""

from __future__ import annotations

import contextlib
import os
import signal
from functools import cache

PROC = "/proc"


def processes_writing_to(log_path: str | None) -> list[int]:
    """The processes whose standard output is ``log_path`` (an attempt's own log)."""
    if not log_path:
        return []
    wanted = os.path.realpath(log_path)
    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(PROC):
            if not entry.name.isdigit():
                continue
            try:
                target = os.readlink(f"{PROC}/{entry.name}/fd/1")
            except OSError:
                continue
            if os.path.realpath(target) == wanted:
                found.append(int(entry.name))
    return found


def kill_task_group(pid: int, log_path: str | None) -> None:
    """SIGKILL the process group that task process ``pid`` leads, unless ``pid`` now
    belongs to another program.

    A live process with that pid counts as the task only while its output goes to the
    attempt's log. A leader that is gone (or a zombie) cannot have had its pid reused
    while its group still has members, so such a group is the task's and is killed.
    """
    try:
        target = os.readlink(f"{PROC}/{pid}/fd/1")
    except FileNotFoundError:
        target = None  # no such process, or a zombie: any group left is the task's
    except OSError:
        return  # not ours to look at
    if target is not None and (
        not log_path or os.path.realpath(target) != os.path.realpath(log_path)
    ):
        return
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)


def group_memory(pgids: set[int]) -> dict[int, int]:
    """Resident bytes of every process in each of the process groups ``pgids``."""
    used: dict[int, int] = dict.fromkeys(pgids, 0)
    if not pgids:
        return used
    page = os.sysconf("SC_PAGE_SIZE")
    with contextlib.suppress(OSError):
        for entry in os.scandir(PROC):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"{PROC}/{entry.name}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                pgid, rss_pages = int(fields[2]), int(fields[21])
            except (OSError, IndexError, ValueError):
                continue
            if pgid in used:
                used[pgid] += rss_pages * page
    return used


@cache
def _oom_counters() -> tuple[str, ...]:
    """Files whose ``oom_kill`` line counts the kernel's out-of-memory kills that could
    have hit this process's children: the system's, and this process's memory cgroup's
    (cgroup v2 ``memory.events``, v1 ``memory.oom_control``)."""
    files = [f"{PROC}/vmstat"]
    with contextlib.suppress(OSError, ValueError), open(f"{PROC}/self/cgroup") as f:
        for line in f:
            hierarchy, controllers, path = line.rstrip("\n").split(":", 2)
            if hierarchy == "0" and not controllers:
                files.append(f"/sys/fs/cgroup{path.rstrip('/')}/memory.events")
            elif "memory" in controllers.split(","):
                files.append(f"/sys/fs/cgroup/memory{path.rstrip('/')}/memory.oom_control")
    return tuple(f for f in files if os.path.exists(f))


def oom_kills() -> int:
    """How many processes the kernel's out-of-memory killer has ended so far, by every
    counter this machine offers (only an increase means anything)."""
    total = 0
    for path in _oom_counters():
        with contextlib.suppress(OSError, ValueError), open(path) as f:
            for line in f:
                if line.startswith("oom_kill "):
                    total += int(line.split()[1])
                    break
    return total


def describe_status(status: int | None) -> str:
    """``status`` as a process's end: 'exit code 3' or 'killed by SIGKILL'."""
    if status is None:
        return "its exit status is unknown"
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        return f"killed by {name}"
    return f"exit code {status}"
