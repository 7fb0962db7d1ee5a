"""The local executor: every task in its own OS process on this machine.

Tasks fork from a warm worker (a zygote, see :mod:`headwater.runtime._zygote`) unless
they ask for a fresh interpreter. CPU, memory and GPU requests are accounted against
the machine; a GPU task gets ``CUDA_VISIBLE_DEVICES`` set to the devices it was
given, so two GPU tasks never share a device. Task processes start with a scrubbed
environment (:mod:`headwater.executors._environment`).

When the worker dies, the tasks it had started are reported ``lost`` (their processes
are stopped first), the tasks it had not started yet go to a new worker, and later
tasks run there too. After :data:`MAX_WORKER_RESTARTS` deaths, every task starts in a
fresh interpreter instead.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal as _signal
import subprocess
import sys
import threading
from dataclasses import replace
from typing import Any

from headwater.executors._base import ExecEvent, Resources, TaskRequest
from headwater.executors._environment import allowed_patterns, task_environment
from headwater.executors._processes import group_memory, oom_kills
from headwater.executors._worker import Worker, WorkerDied

# A worker that dies is replaced this many times in one executor's life; after that,
# every task starts in a fresh interpreter.
MAX_WORKER_RESTARTS = 5
# A task killed by SIGKILL after using this share of its memory request may have run out.
NEAR_MEMORY_REQUEST = 0.9


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
        self._events: queue.Queue[ExecEvent | WorkerDied] = queue.Queue()
        self._worker: Worker | None = None
        self._fresh_only = False
        self._restarts = 0
        self._preloads: list[dict[str, Any]] = []
        self._fresh: dict[str, subprocess.Popen[bytes]] = {}
        # Per task submitted and not ended: its own variables, the out-of-memory kill
        # count when it was submitted, and the most memory its process group was seen using.
        self._envs: dict[str, dict[str, str]] = {}
        self._oom_seen: dict[str, int] = {}
        self._peak: dict[str, int] = {}
        allowed_patterns()  # a bad allow-list is refused before anything starts

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
        """Start the worker now, so it warms up while the caller does other work."""
        if self._worker is not None or self._fresh_only:
            return
        env = task_environment({"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
        self._worker = Worker(env, self._events)

    def preload_file(self, path: str) -> None:
        """Have the worker import a pipeline file (and what its components import) now,
        while the caller is still compiling it."""
        root, name = os.path.split(os.path.abspath(path))
        module = os.path.splitext(name)[0]
        self._preload({"op": "preload", "modules": [[root, module, name]], "imports": []})

    def start(self, preload: list[tuple[str, str, str]], imports: list[str]) -> None:
        """Have the worker import the pipeline's code and libraries before the first fork."""
        self._preload({"op": "preload", "modules": [list(m) for m in preload], "imports": imports})

    def _preload(self, msg: dict[str, Any]) -> None:
        self._preloads.append(msg)  # a restarted worker imports the same
        self.spawn()
        if self._worker is not None:
            self._worker.send(msg)

    def submit(self, request: TaskRequest) -> None:
        gpus = self._acquire(request.id, request.resources)
        env = dict(request.env)
        if request.resources.gpu:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpus)
        self._oom_seen[request.id] = oom_kills()
        self._launch(request, env)

    def _launch(self, request: TaskRequest, env: dict[str, str]) -> None:
        self._envs[request.id] = env
        if request.fresh_interpreter or self._worker is None:
            self._spawn_fresh(request, env)
        else:
            self._worker.run(request, env)

    def _spawn_fresh(self, request: TaskRequest, env: dict[str, str]) -> None:
        full_env = task_environment(env)
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
        raw: list[ExecEvent | WorkerDied] = []
        try:
            raw.append(self._events.get(timeout=timeout))
        except queue.Empty:
            return []
        while True:
            try:
                raw.append(self._events.get_nowait())
            except queue.Empty:
                break
        out: list[ExecEvent] = []
        for item in raw:
            if isinstance(item, WorkerDied):
                out.extend(self._worker_died(item))
            else:
                out.append(item)
        for i, ev in enumerate(out):
            if ev.kind == "started" and ev.pid is not None:
                self._pids[ev.id] = ev.pid
            elif ev.kind in ("exited", "lost"):
                if ev.kind == "exited" and ev.status == -_signal.SIGKILL:
                    out[i] = replace(ev, oom=self._memory_evidence(ev.id))
                self._forget(ev.id)
        return out

    def _forget(self, task_id: str) -> None:
        self._pids.pop(task_id, None)
        self._fresh.pop(task_id, None)
        self._envs.pop(task_id, None)
        self._oom_seen.pop(task_id, None)
        self._peak.pop(task_id, None)
        self._release(task_id)

    def _worker_died(self, died: WorkerDied) -> list[ExecEvent]:
        """The worker's tasks that had started are lost (the reader stopped them); those
        it never started go to the worker that replaces it."""
        worker = died.worker
        if worker is not self._worker:
            return []  # one we closed ourselves
        reason = worker.describe_death(died.status)
        held, pids = worker.unreported()
        self._worker = None
        self._restarts += 1
        if self._restarts > MAX_WORKER_RESTARTS:
            # It keeps dying (its imports crash it, or memory is short): start every
            # task in an interpreter of its own from now on.
            self._fresh_only = True
        else:
            try:
                self.spawn()
            except OSError:  # no process can be started now: try each task on its own
                self._fresh_only = True
            if self._worker is not None:
                for msg in self._preloads:
                    self._worker.send(msg)
        lost = [
            ExecEvent("lost", task_id, pid=pids[task_id], reason=reason)
            for task_id in held
            if task_id in pids
        ]
        for task_id, request in held.items():
            if task_id not in pids:
                self._launch(request, self._envs.get(task_id, dict(request.env)))
        return lost

    def _memory_evidence(self, task_id: str) -> str | None:
        """Why a task killed by SIGKILL may have run out of memory, if there is a sign:
        the kernel's out-of-memory killer struck while it ran, or it was close to its
        memory request."""
        before = self._oom_seen.get(task_id)
        if before is not None and oom_kills() > before:
            return "the kernel's out-of-memory killer ended a process while it ran"
        held = self._held.get(task_id)
        peak = self._peak.get(task_id, 0)
        if held is not None and held[0].memory and peak >= NEAR_MEMORY_REQUEST * held[0].memory:
            return (
                f"it used {peak / 2**20:.0f} MiB of its {held[0].memory / 2**20:.0f} MiB "
                "memory request"
            )
        return None

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
        used = group_memory(set(limited))
        for pid, (tid, _) in limited.items():
            self._peak[tid] = max(self._peak.get(tid, 0), used[pid])
        return [
            (tid, used[pid], limit) for pid, (tid, limit) in limited.items() if used[pid] > limit
        ]

    def close(self) -> None:
        for task_id in list(self._pids):
            self.signal(task_id, _signal.SIGKILL)
        if self._worker is not None:
            self._worker.close()
            self._worker = None
