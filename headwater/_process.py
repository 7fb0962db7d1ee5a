"""Facts about processes on this machine, for the records that name one (a run's
engine, a serving server, a TensorBoard child)."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine. A zombie counts as gone; a process
    of another user counts as alive (it exists, we may not signal it). A pid reused by
    an unrelated process also counts as alive: callers that act on a dead process's
    records stay on the safe side."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            # The state follows the command name, which is in parentheses and may hold spaces.
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
