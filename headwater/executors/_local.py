"""The local executor: every task in its own OS process on this machine.

Tasks fork from a warm zygote (see :mod:`headwater.runtime._zygote`) unless they
ask for a fresh interpreter. CPU, memory and GPU requests are accounted against
the machine; a GPU task gets ``CUDA_VISIBLE_DEVICES`` set to the devices it was
given, so two GPU tasks never share a device.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal as _signal
import subprocess
import sys
import threading
from typing import IO, Any

from headwater.executors._base import ExecEvent, Resources, TaskRequest


def machine_gpus() -> int:
    """GPUs on this machine: ``HEADWATER_GPUS`` if set, else what nvidia-smi lists."""
    env = os.environ.get("HEADWATER_GPUS")
    if env is not None:
        return int(env)
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        out = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


def machine_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


class LocalExecutor:
    def __init__(self, max_parallel: int | None = None) -> None:
        self.cpus = os.cpu_count() or 1
        self.max_parallel = max_parallel or self.cpus
        self.memory = machine_memory()
        self._gpus: int | None = None
        self._free_gpus: list[int] = []
        self._used = {"slots": 0, "cpu": 0.0, "memory": 0}
        self._held: dict[str, tuple[Resources, list[int]]] = {}
        self._pids: dict[str, int] = {}
        self._events: queue.Queue[ExecEvent] = queue.Queue()
        self._zygote: subprocess.Popen[bytes] | None = None
        self._cmd: IO[bytes] | None = None
        self._fresh: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ capacity

    @property
    def gpus(self) -> int:
        if self._gpus is None:
            self._gpus = machine_gpus()
            self._free_gpus = list(range(self._gpus))
        return self._gpus

    def check(self, r: Resources) -> str | None:
        if r.gpu and r.gpu > self.gpus:
            return f"asks for {r.gpu} GPU(s) but this machine has {self.gpus}"
        if r.cpu > self.cpus:
            return f"asks for {r.cpu:g} CPUs but this machine has {self.cpus}"
        if r.memory > self.memory:
            return (
                f"asks for {r.memory / 2**30:.1f} GiB of memory but this machine has "
                f"{self.memory / 2**30:.1f} GiB"
            )
        return None

    def full(self) -> bool:
        """Whether every slot is taken."""
        return self._used["slots"] >= self.max_parallel

    def has_room(self, r: Resources) -> bool:
        u = self._used
        if u["slots"] >= self.max_parallel:
            return False
        if r.cpu and u["cpu"] + r.cpu > self.cpus:
            return False
        if r.memory and u["memory"] + r.memory > self.memory:
            return False
        return not (r.gpu and len(self._free_gpus) < r.gpu)

    def _acquire(self, task_id: str, r: Resources) -> list[int]:
        gpus = []
        if r.gpu:
            _ = self.gpus
            gpus, self._free_gpus = self._free_gpus[: r.gpu], self._free_gpus[r.gpu :]
        self._used["slots"] += 1
        self._used["cpu"] += r.cpu
        self._used["memory"] += r.memory
        self._held[task_id] = (r, gpus)
        return gpus

    def _release(self, task_id: str) -> None:
        held = self._held.pop(task_id, None)
        if held is None:
            return
        r, gpus = held
        self._used["slots"] -= 1
        self._used["cpu"] -= r.cpu
        self._used["memory"] -= r.memory
        self._free_gpus = sorted(self._free_gpus + gpus)

    # ------------------------------------------------------------------ processes

    def spawn(self) -> None:
        """Start the zygote now, so it warms up while the caller does other work."""
        if self._zygote is not None:
            return
        cmd_r, cmd_w = os.pipe()
        ev_r, ev_w = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self._zygote = subprocess.Popen(
            [sys.executable, "-m", "headwater.runtime._zygote", str(cmd_r), str(ev_w)],
            pass_fds=(cmd_r, ev_w),
            stdin=subprocess.DEVNULL,
            env=env,
        )
        os.close(cmd_r)
        os.close(ev_w)
        self._cmd = os.fdopen(cmd_w, "wb", buffering=0)
        threading.Thread(target=self._read_zygote, args=(ev_r,), daemon=True).start()

    def preload_file(self, path: str) -> None:
        """Have the zygote import a pipeline file (and what its components import) now,
        while the caller is still compiling it."""
        self.spawn()
        root, name = os.path.split(os.path.abspath(path))
        module = os.path.splitext(name)[0]
        self._send({"op": "preload", "modules": [[root, module, name]], "imports": []})

    def start(self, preload: list[tuple[str, str, str]], imports: list[str]) -> None:
        """Have the zygote import the pipeline's code and libraries before the first fork."""
        self.spawn()
        self._send({"op": "preload", "modules": [list(m) for m in preload], "imports": imports})

    def _send(self, msg: dict[str, Any]) -> None:
        assert self._cmd is not None
        self._cmd.write((json.dumps(msg) + "\n").encode())

    def _read_zygote(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as stream:
            for line in stream:
                msg = json.loads(line)
                if msg["ev"] == "started":
                    self._events.put(ExecEvent("started", msg["id"], pid=msg["pid"]))
                elif msg["ev"] == "exited":
                    self._events.put(ExecEvent("exited", msg["id"], msg["pid"], msg["status"]))
        self._events.put(ExecEvent("zygote_exited", ""))

    def submit(self, request: TaskRequest) -> None:
        gpus = self._acquire(request.id, request.resources)
        env = dict(request.env)
        if request.resources.gpu:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpus)
        if request.fresh_interpreter or self._zygote is None:
            self._spawn_fresh(request, env)
            return
        self._send(
            {
                "op": "run",
                "id": request.id,
                "input": request.input_path,
                "log": request.log_path,
                "env": env,
                "cwd": request.cwd,
            }
        )

    def _spawn_fresh(self, request: TaskRequest, env: dict[str, str]) -> None:
        full_env = {**os.environ, **env}
        full_env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        with open(request.log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "headwater.runtime", request.input_path],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=request.cwd,
                env=full_env,
                start_new_session=True,
            )
        self._fresh[request.id] = proc
        self._events.put(ExecEvent("started", request.id, pid=proc.pid))

        def wait() -> None:
            status = proc.wait()
            self._events.put(ExecEvent("exited", request.id, proc.pid, status))

        threading.Thread(target=wait, daemon=True).start()

    def wake(self) -> None:
        """Make a waiting ``events()`` call return now (safe from a signal handler)."""
        self._events.put(ExecEvent("wake", ""))

    def events(self, timeout: float | None) -> list[ExecEvent]:
        out: list[ExecEvent] = []
        try:
            out.append(self._events.get(timeout=timeout))
        except queue.Empty:
            return out
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                break
        for ev in out:
            if ev.kind == "started" and ev.pid is not None:
                self._pids[ev.id] = ev.pid
            elif ev.kind == "exited":
                self._pids.pop(ev.id, None)
                self._fresh.pop(ev.id, None)
                self._release(ev.id)
        return out

    def signal(self, task_id: str, sig: int) -> None:
        """Send ``sig`` to the task's whole process group."""
        pid = self._pids.get(task_id)
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)

    def running(self) -> list[str]:
        return list(self._pids)

    def over_memory(self) -> list[tuple[str, int, int]]:
        """(task, bytes in use, bytes asked for) for each task above its memory request.

        A task's use is the resident memory of every process in its process group, so
        children it starts count too.
        """
        limited = {
            self._pids[tid]: (tid, held[0].memory)
            for tid, held in self._held.items()
            if held[0].memory and tid in self._pids
        }
        if not limited:
            return []
        used: dict[int, int] = dict.fromkeys(limited, 0)
        page = os.sysconf("SC_PAGE_SIZE")
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                pgid, rss_pages = int(fields[2]), int(fields[21])
            except (OSError, IndexError, ValueError):
                continue
            if pgid in used:
                used[pgid] += rss_pages * page
        return [
            (tid, used[pid], limit) for pid, (tid, limit) in limited.items() if used[pid] > limit
        ]

    def close(self) -> None:
        for task_id in list(self._pids):
            self.signal(task_id, _signal.SIGKILL)
        if self._cmd is not None:
            with contextlib.suppress(OSError):
                self._cmd.close()
            self._cmd = None
        if self._zygote is not None:
            # Nothing runs any more: do not wait for imports the zygote may still be doing.
            with contextlib.suppress(ProcessLookupError):
                self._zygote.kill()
            self._zygote.wait()
            self._zygote = None
