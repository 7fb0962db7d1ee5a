"""One task worker: a zygote process (:mod:`headwater.runtime._zygote`) and the tasks it
holds.

A reader thread turns the zygote's JSON-line events into :class:`ExecEvent` objects on
the executor's queue. When the zygote dies its event pipe closes: the reader stops the
process groups of the tasks it had started (the zygote can no longer watch them, and
they must not run on beside the attempts that replace them), waits until they are gone,
and reports the death with :class:`WorkerDied`; the executor decides what becomes of
the tasks.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import IO, Any

from headwater.executors._base import ExecEvent, TaskRequest
from headwater.executors._processes import describe_status, kill_task_group

# How long the reader waits for the stopped task processes of a dead worker to be gone.
ORPHAN_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class WorkerDied:
    """The zygote of ``worker`` exited with ``status`` without being asked to."""

    worker: Worker
    status: int | None


class Worker:
    """A zygote started with ``python`` (this interpreter, or a per-step environment's),
    the commands sent to it, and the tasks it has not reported ended."""

    def __init__(
        self,
        env: dict[str, str],
        events: queue.Queue[ExecEvent | WorkerDied],
        python: str = sys.executable,
    ) -> None:
        cmd_r, cmd_w = os.pipe()
        ev_r, ev_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [python, "-m", "headwater.runtime._zygote", str(cmd_r), str(ev_w)],
                pass_fds=(cmd_r, ev_w),
                stdin=subprocess.DEVNULL,
                env=env,
            )
        except BaseException:
            for fd in (cmd_r, cmd_w, ev_r, ev_w):
                os.close(fd)
            raise
        os.close(cmd_r)
        os.close(ev_w)
        self._cmd: IO[bytes] | None = os.fdopen(cmd_w, "wb", buffering=0)
        self._events = events
        # Submitted and not reported ended, by task id; the pids of those started. The
        # executor's thread adds to ``held``; the reader thread removes what ended.
        self.held: dict[str, TaskRequest] = {}
        self.pids: dict[str, int] = {}
        self._lock = threading.Lock()
        self._closing = False
        threading.Thread(target=self._read, args=(ev_r,), daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, msg: dict[str, Any]) -> None:
        """Send a command; a worker that died meanwhile is reported by the reader."""
        if self._cmd is None:
            return
        with contextlib.suppress(OSError):  # a broken pipe: the zygote is gone
            self._cmd.write((json.dumps(msg) + "\n").encode())

    def run(self, request: TaskRequest, env: dict[str, str]) -> None:
        with self._lock:
            self.held[request.id] = request
        self.send(
            {
                "op": "run",
                "id": request.id,
                "input": request.input_path,
                "task": request.task_input,  # None: read from the input file
                "log": request.log_path,
                "env": env,
                "cwd": request.cwd,
            }
        )

    def unreported(self) -> tuple[dict[str, TaskRequest], dict[str, int]]:
        """The tasks it held when it died, and the pids of those it had started."""
        with self._lock:
            return dict(self.held), dict(self.pids)

    def _read(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as stream:
            for line in stream:
                msg = json.loads(line)
                if msg["ev"] == "started":
                    with self._lock:
                        self.pids[msg["id"]] = msg["pid"]
                    self._events.put(
                        ExecEvent(
                            "started", msg["id"], pid=msg["pid"], at=msg.get("at") or time.time()
                        )
                    )
                elif msg["ev"] == "exited":
                    with self._lock:
                        self.held.pop(msg["id"], None)
                        self.pids.pop(msg["id"], None)
                    self._events.put(
                        ExecEvent(
                            "exited",
                            msg["id"],
                            msg["pid"],
                            msg["status"],
                            peak_rss=msg.get("maxrss"),
                        )
                    )
        if self._closing:
            return
        status: int | None = None
        try:
            status = self.proc.wait(timeout=ORPHAN_WAIT_SECONDS)
        except subprocess.TimeoutExpired:  # it closed its events but lives: it is of no use
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            self.proc.wait()
        held, pids = self.unreported()
        for task_id, pid in pids.items():
            kill_task_group(pid, held[task_id].log_path if task_id in held else None)
        # Whatever a stopped task had written is final once it is gone.
        deadline = time.monotonic() + ORPHAN_WAIT_SECONDS
        while time.monotonic() < deadline and any(_exists(pid) for pid in pids.values()):
            time.sleep(0.01)
        self._events.put(WorkerDied(self, status))

    def describe_death(self, status: int | None) -> str:
        return f"the task worker process died (pid {self.pid}, {describe_status(status)})"

    def close(self) -> None:
        """Stop the zygote (it kills the tasks it still runs when its commands end)."""
        self._closing = True
        if self._cmd is not None:
            with contextlib.suppress(OSError):
                self._cmd.close()
            self._cmd = None
        # Nothing runs any more: do not wait for imports the zygote may still be doing.
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()


def _exists(pid: int) -> bool:
    """Whether ``pid`` is a process that has not yet exited (a zombie has)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return False
