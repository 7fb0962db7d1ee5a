"""The local executor: every task in its own OS process on this machine.

Tasks fork from a warm worker (a zygote, see :mod:`headwater.runtime._zygote`) unless
they ask for a fresh interpreter, or set a variable that is read only as a process
starts (:data:`READ_AT_START`: ``PYTHONPATH``, ``OMP_NUM_THREADS``, ...), which a fork
would ignore. CPU, memory and GPU requests are accounted against
the machine; a GPU task gets ``CUDA_VISIBLE_DEVICES`` set to the devices it was
given, so two GPU tasks never share a device. Task processes start with a scrubbed
environment (:mod:`headwater.executors._environment`).

The executor enforces what a request asks: past ``timeout_seconds`` a task's process
group gets SIGTERM, then SIGKILL after a grace period; a task whose process group uses
more resident memory than its memory request is killed; a cancelled task is killed at
once. Each is reported on the task's ``exited`` event (``stopped``).

A task in a per-step environment (:mod:`headwater.envs`) runs on that environment's
interpreter: :meth:`LocalExecutor.prepare` builds the environment (once; later runs
reuse it) and starts a warm worker of its own on its Python, which imports the modules
of the components that use it; tasks fork from there as cheaply as from the default
worker, and a fresh interpreter is the environment's Python. Headwater reaches those
processes through a shim folder on ``PYTHONPATH`` holding only Headwater itself, so
nothing else of the engine's environment does.

When a worker dies, the tasks it had started are reported ``lost`` (their processes
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
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from headwater.executors._base import (
    KILL_GRACE_SECONDS,
    Environment,
    ExecEvent,
    Report,
    Resources,
    Stopped,
    TaskRequest,
    write_task_input,
)
from headwater.executors._environment import allowed_patterns, task_environment
from headwater.executors._processes import (
    group_memory,
    kill_task_group,
    oom_kills,
    processes_writing_to,
)
from headwater.executors._worker import Worker, WorkerDied

if TYPE_CHECKING:
    from headwater.envs import Lease, Venv

# At most this many task processes are forked ahead of need by each worker (fewer when
# fewer tasks may run at once).
MAX_SPARES = 2
# A worker that dies is replaced this many times in one executor's life; after that,
# every task starts in a fresh interpreter.
MAX_WORKER_RESTARTS = 5
# A task killed by SIGKILL after using this share of its memory request may have run out.
NEAR_MEMORY_REQUEST = 0.9
# How often the memory of tasks with a memory request is measured.
MEMORY_CHECK_SECONDS = 0.1
# How stale the out-of-memory kill count taken as a task starts may be: a kill that
# soon before it would be taken for a sign that it ran out, if it is SIGKILLed.
OOM_READ_SECONDS = 0.5


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


@dataclass
class _Pool:
    """A warm worker and how to start it again: for the engine's own Python (``key``
    "") or for one per-step environment (``key`` its digest)."""

    key: str
    python: str
    # What the zygote and fresh interpreters of an environment's pool get on top of a
    # task's base environment: PYTHONPATH (the shim), PATH and VIRTUAL_ENV.
    overrides: dict[str, str]
    preloads: list[dict[str, Any]] = field(default_factory=list)
    worker: Worker | None = None
    venv: Venv | None = None  # an environment's folder
    lease: Lease | None = None  # held while this executor may use the environment
    announced: bool = False  # the first task's log says which environment it runs in


@dataclass
class _Task:
    """A submitted task the executor has not yet reported ended."""

    request: TaskRequest
    env: dict[str, str]
    gpus: list[int]
    oom_seen: int  # the out-of-memory kill count when it was submitted
    pid: int | None = None
    started: float | None = None  # monotonic
    deadline: float | None = None  # SIGTERM then (its timeout)
    kill_at: float | None = None  # SIGKILL then (the grace after SIGTERM ran out)
    stopped: Stopped | None = None
    peak: int = 0  # the most memory its process group was seen using


# Variables read once, as an interpreter or a library it loads starts: the interpreter's
# own, the dynamic loader's and the C library's, and the thread counts of numeric
# libraries (a warm worker imported them already). Set for a task forked from a worker
# they would change nothing, so a task whose env= names one starts in a fresh interpreter.
READ_AT_START = (
    "PYTHON*",
    "LD_*",
    "MALLOC_*",
    "GLIBC_TUNABLES",
    "OMP_*",
    "MKL_*",
    "OPENBLAS_*",
    "NUMEXPR_*",
    "VECLIB_MAXIMUM_THREADS",
    "BLIS_NUM_THREADS",
)

# The task options this executor honours (docs/adr/0012); it refuses every other one
# that depends on where a task runs.
HONOURED = frozenset(
    {
        "timeout_seconds",
        "env",
        "packages",
        "fresh_interpreter",
        "resources.cpu",
        "resources.memory_bytes",
        "resources.gpu",
    }
)


class LocalExecutor:
    """Task processes on this machine (see the module docstring)."""

    name = "local"

    @staticmethod
    def refuse(option: str, value: object) -> str | None:
        """Why a task setting ``option`` cannot run here (see :meth:`Executor.refuse`):
        a container image, or a kind of accelerator, which this machine's processes
        cannot honour."""
        if option in HONOURED:
            return None
        if option == "image":
            return (
                "the local executor runs steps on this machine's Python; use packages= "
                "for its dependencies or compile the pipeline for Kubeflow"
            )
        if option == "resources.accelerator":
            return (
                "the local executor cannot choose a kind of accelerator (a GPU task gets "
                "any of this machine's GPUs); ask for gpu= alone, or run it on the Ray "
                "executor"
            )
        if option == "resources.custom":
            return (
                "the local executor has no custom resources; leave resources= out, or run "
                "the pipeline on the Ray executor, on nodes that offer them"
            )
        return (
            f"the local executor does not know the option {option}; leave it out, or run "
            "the pipeline on an executor that honours it"
        )

    def __init__(self, max_parallel: int | None = None) -> None:
        self.cpus = os.cpu_count() or 1
        self.max_parallel = max_parallel or self.cpus
        self.memory = machine_memory()
        self._gpus: int | None = None
        self._free_gpus: list[int] = []
        self._used = {"slots": 0, "cpu": 0.0, "memory": 0}
        self._tasks: dict[str, _Task] = {}
        self._events: queue.Queue[ExecEvent | WorkerDied] = queue.Queue()
        # The default worker's pool, and one per prepared environment by digest.
        self._pools: dict[str, _Pool] = {"": _Pool("", sys.executable, {})}
        self._fresh_only = False
        self._restarts = 0
        # Warm workers started so far (restarts included): none for a run that needed no
        # task process.
        self.workers_started = 0
        self._last_memory_check = 0.0
        self._oom_read: tuple[float, int] | None = None  # when, and the count then
        self.node = socket.gethostname()
        allowed_patterns()  # a bad allow-list is refused before anything starts

    # ------------------------------------------------------------------ capacity

    @property
    def gpus(self) -> int:
        if self._gpus is None:
            self._gpus = machine_gpus()
            self._free_gpus = list(range(self._gpus))
        return self._gpus

    def check(self, r: Resources, environment: Environment | None = None) -> str | None:
        here = environment.other_interpreter() if environment is not None else None
        if environment is not None and here is not None:
            return (
                f"asks for an environment for {environment.python}, but the local "
                f"executor runs {here}; resolve its packages on this machine"
            )
        if r.accelerator is not None:
            return (
                f"asks for accelerator '{r.accelerator}', but the local executor cannot choose "
                "a kind of accelerator; ask for gpu= only, or run it on the Ray executor"
            )
        if r.custom:
            return (
                f"asks for resources {', '.join(sorted(r.custom))}, which the local executor "
                "does not have; run it on the Ray executor, on nodes that offer them"
            )
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

    def has_room(self, r: Resources) -> bool:
        u = self._used
        if u["slots"] >= self.max_parallel:
            return False
        if r.cpu and u["cpu"] + r.cpu > self.cpus:
            return False
        if r.memory and u["memory"] + r.memory > self.memory:
            return False
        return not (r.gpu and len(self._free_gpus) < r.gpu)

    def _acquire(self, r: Resources) -> list[int]:
        gpus = []
        if r.gpu:
            _ = self.gpus
            gpus, self._free_gpus = self._free_gpus[: r.gpu], self._free_gpus[r.gpu :]
        self._used["slots"] += 1
        self._used["cpu"] += r.cpu
        self._used["memory"] += r.memory
        return gpus

    def _release(self, task: _Task) -> None:
        r = task.request.resources
        self._used["slots"] -= 1
        self._used["cpu"] -= r.cpu
        self._used["memory"] -= r.memory
        self._free_gpus = sorted(self._free_gpus + task.gpus)

    # ------------------------------------------------------------------ processes

    @property
    def _worker(self) -> Worker | None:
        """The default worker (tasks without an environment fork from it)."""
        return self._pools[""].worker

    def warm(self) -> None:
        """Start the workers now (the default one, and those of prepared environments),
        so they warm up while the caller does other work; until then, or until a task is
        submitted, no worker runs."""
        for pool in self._pools.values():
            self._start_worker(pool)

    def _start_worker(self, pool: _Pool) -> None:
        if pool.worker is not None or self._fresh_only:
            return
        pool.worker = Worker(task_environment(_overrides(pool)), self._events, pool.python)
        self.workers_started += 1
        pool.worker.send({"op": "spares", "n": min(self.max_parallel, MAX_SPARES)})
        for msg in pool.preloads:
            pool.worker.send(msg)

    def preload_file(self, path: str, imports: Sequence[str] = ()) -> None:
        """Have the worker import a pipeline file (and ``imports``) as soon as it runs,
        while the caller is still compiling it."""
        root, name = os.path.split(os.path.abspath(path))
        module = os.path.splitext(name)[0]
        self._preload({"op": "preload", "modules": [[root, module, name]], "imports": [*imports]})

    def start(self, preload: list[tuple[str, str, str]], imports: list[str]) -> None:
        """Have the worker import the pipeline's code and libraries before it forks tasks."""
        self._preload({"op": "preload", "modules": [list(m) for m in preload], "imports": imports})

    def _preload(self, msg: dict[str, Any], pool: _Pool | None = None) -> None:
        pool = pool or self._pools[""]
        pool.preloads.append(msg)  # a worker started later, or restarted, imports the same
        if pool.worker is not None:
            pool.worker.send(msg)

    # ------------------------------------------------------------------ environments

    def prepare(
        self,
        environment: Environment,
        preload: list[tuple[str, str, str]],
        report: Report | None = None,
        imports: Sequence[str] = (),
    ) -> None:
        """Build ``environment`` unless it was built before (``report`` hears the build's
        output) and hold it in use until :meth:`close`; its warm worker, started by
        :meth:`warm` or its first task, imports ``preload`` and ``imports``."""
        pool = self._env_pool(environment, report)
        if preload or imports:
            msg = {"op": "preload", "modules": [list(m) for m in preload], "imports": [*imports]}
            self._preload(msg, pool)

    def _env_pool(self, environment: Environment, report: Report | None = None) -> _Pool:
        """The pool of ``environment``, built and leased on first use."""
        pool = self._pools.get(environment.digest)
        if pool is not None:
            return pool
        from headwater.envs import Lease, Lock, build, shim_dir

        lock = Lock.of(environment.python, environment.requested, tuple(environment.requirements))
        if lock.digest != environment.digest:
            raise ValueError(
                f"environment {environment.digest} does not match its requirements ({lock.digest})"
            )
        venv = build(lock, report=report)
        lease = Lease(venv)
        overrides = {
            "PYTHONPATH": shim_dir(),
            "PATH": venv.bin + os.pathsep + os.environ.get("PATH", os.defpath),
            "VIRTUAL_ENV": str(venv.path),
        }
        pool = _Pool(environment.digest, venv.python, overrides, venv=venv, lease=lease)
        self._pools[environment.digest] = pool
        return pool

    def _pool_of(self, request: TaskRequest) -> _Pool:
        if request.environment is None:
            return self._pools[""]
        return self._env_pool(request.environment)

    def _announce(self, pool: _Pool, request: TaskRequest) -> None:
        """Say in the first task's log which environment its tasks run in, and how it was
        built (the build's output when this executor built it)."""
        pool.announced = True
        venv = pool.venv
        assert request.environment is not None and venv is not None
        what = request.environment.describe()
        with contextlib.suppress(OSError), open(request.log_path, "a", encoding="utf-8") as log:
            if venv.built_now:
                log.write(
                    f"[headwater] environment {what} was built for this run in "
                    f"{venv.built_seconds:.1f} s at {venv.path}; its build output:\n"
                )
                with contextlib.suppress(OSError):
                    log.write(venv.build_log.read_text(encoding="utf-8", errors="replace"))
                log.write("[headwater] end of the build output\n")
            else:
                log.write(
                    f"[headwater] environment {what} at {venv.path} (built before; build "
                    f"log: {venv.build_log})\n"
                )

    # ------------------------------------------------------------------ tasks

    def submit(self, request: TaskRequest) -> None:
        problem = self.check(request.resources, request.environment)
        if problem:
            raise ValueError(f"task {request.id} {problem}")
        if request.id in self._tasks:
            raise ValueError(f"task {request.id} was already submitted")
        pool = self._pool_of(request)
        if pool.key and not pool.announced:
            self._announce(pool, request)
        gpus = self._acquire(request.resources)
        env = dict(request.env)
        if request.resources.gpu:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpus)
        self._tasks[request.id] = _Task(request, env, gpus, self._oom_kills())
        self._launch(request, env)

    def _launch(self, request: TaskRequest, env: dict[str, str]) -> None:
        pool = self._pool_of(request)
        if not request.fresh_interpreter:
            self._start_worker(pool)  # not warmed, or after a death
        if request.fresh_interpreter or pool.worker is None or read_at_start(request.env):
            self._spawn_fresh(request, env, pool)
        else:
            pool.worker.run(request, env)

    def _spawn_fresh(self, request: TaskRequest, env: dict[str, str], pool: _Pool) -> None:
        write_task_input(request)  # a fresh interpreter reads it from its file
        overrides = _overrides(pool)
        full_env = task_environment({**overrides, **env})
        # The task's own PYTHONPATH comes first, as it would in any interpreter; then
        # what Headwater itself is imported from.
        full_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (env.get("PYTHONPATH"), overrides["PYTHONPATH"]) if p
        )
        with open(request.log_path, "ab") as log:
            proc = subprocess.Popen(
                [pool.python, "-m", "headwater.runtime", request.input_path],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=request.cwd,
                env=full_env,
                start_new_session=True,
            )
        task = self._tasks.get(request.id)
        if task is not None:
            task.pid = proc.pid  # a cancel from now on kills it at once
        self._events.put(ExecEvent("started", request.id, pid=proc.pid, at=time.time()))

        def wait() -> None:
            # wait4, not Popen.wait: the process's own peak memory comes with its status.
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            self._events.put(
                ExecEvent(
                    "exited",
                    request.id,
                    proc.pid,
                    proc.returncode,
                    peak_rss=usage.ru_maxrss * 1024,
                )
            )

        threading.Thread(target=wait, daemon=True).start()

    # ------------------------------------------------------------------ events

    def wake(self) -> None:
        """Make a waiting ``events()`` call return now (safe from a signal handler)."""
        self._events.put(ExecEvent("wake", ""))

    def events(self, timeout: float | None) -> list[ExecEvent]:
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            now = time.monotonic()
            self._enforce(now)
            wait = self._next_enforcement(now)
            if end is not None:
                wait = max(0.0, end - now) if wait is None else min(wait, max(0.0, end - now))
            raw = self._take(wait)
            out = self._digest(raw)
            if out:
                return out
            if end is not None and time.monotonic() >= end:
                return []

    def _take(self, wait: float | None) -> list[ExecEvent | WorkerDied]:
        raw: list[ExecEvent | WorkerDied] = []
        try:
            raw.append(self._events.get(timeout=wait))
        except queue.Empty:
            return raw
        while True:
            try:
                raw.append(self._events.get_nowait())
            except queue.Empty:
                return raw

    def _digest(self, raw: list[ExecEvent | WorkerDied]) -> list[ExecEvent]:
        out: list[ExecEvent] = []
        for item in raw:
            if isinstance(item, WorkerDied):
                out.extend(self._worker_died(item))
            else:
                out.append(item)
        for i, ev in enumerate(out):
            task = self._tasks.get(ev.id)
            if task is None:
                continue
            if ev.kind == "started" and ev.pid is not None:
                out[i] = replace(ev, node=self.node)
                task.pid = ev.pid
                # From when the task was let go (``at``, stamped where it started), not
                # from when this poll saw it: a busy poller would shorten its wall time.
                lag = max(0.0, time.time() - ev.at) if ev.at is not None else 0.0
                task.started = time.monotonic() - lag
                if task.request.timeout_seconds:
                    task.deadline = task.started + task.request.timeout_seconds
                if task.stopped is Stopped.CANCELLED:  # cancelled before it started
                    self._kill(task, _signal.SIGKILL)
            elif ev.kind in ("exited", "lost"):
                out[i] = self._ended(task, ev)
                del self._tasks[ev.id]
                self._release(task)
        return out

    def _ended(self, task: _Task, ev: ExecEvent) -> ExecEvent:
        """``ev`` with what the executor knows of the task's end."""
        wall = time.monotonic() - task.started if task.started is not None else None
        peak = max(task.peak, ev.peak_rss or 0) or None
        oom = None
        if ev.kind == "exited" and ev.status == -_signal.SIGKILL and task.stopped is None:
            oom = self._memory_evidence(task)
        return replace(ev, stopped=task.stopped, peak_rss=peak, wall_seconds=wall, oom=oom)

    # ------------------------------------------------------------------ enforcement

    def _enforce(self, now: float) -> None:
        """Stop tasks past their timeout or over their memory request."""
        for task in self._tasks.values():
            if task.pid is None:
                continue
            if task.kill_at is not None and task.kill_at <= now:
                task.kill_at = None
                self._kill(task, _signal.SIGKILL)
            elif task.deadline is not None and task.deadline <= now:
                task.deadline = None
                if task.stopped is None:
                    task.stopped = Stopped.TIMEOUT
                self._kill(task, _signal.SIGTERM)
                task.kill_at = now + KILL_GRACE_SECONDS
        if now - self._last_memory_check >= MEMORY_CHECK_SECONDS:
            self._last_memory_check = now
            self._watch_memory()

    def _watch_memory(self) -> None:
        """Kill each task whose process group uses more than its memory request.

        A task's use is the resident memory of every process in its process group, so
        children it starts count too.
        """
        limited = {t.pid: t for t in self._tasks.values() if t.request.resources.memory and t.pid}
        if not limited:
            return
        used = group_memory(set(limited))
        for pid, task in limited.items():
            task.peak = max(task.peak, used[pid])
            if used[pid] > task.request.resources.memory and task.stopped is None:
                task.stopped = Stopped.MEMORY_EXCEEDED
                self._kill(task, _signal.SIGKILL)

    def _next_enforcement(self, now: float) -> float | None:
        """Seconds until :meth:`_enforce` has something to do, or None."""
        times = []
        for task in self._tasks.values():
            if task.pid is None:
                continue
            if task.kill_at is not None:
                times.append(task.kill_at)
            elif task.deadline is not None:
                times.append(task.deadline)
            if task.request.resources.memory:
                times.append(self._last_memory_check + MEMORY_CHECK_SECONDS)
        return max(0.0, min(times) - now) if times else None

    def _kill(self, task: _Task, sig: int) -> None:
        """Send ``sig`` to the task's whole process group."""
        if task.pid is None:
            return
        try:
            os.killpg(task.pid, sig)
        except ProcessLookupError:
            # Reported started but not yet the leader of a group of its own (a forked
            # task calls setsid first thing, so it has started nothing else yet either).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(task.pid, sig)
        except PermissionError:
            pass

    def cancel(self, task_id: str) -> None:
        task = self._tasks.get(task_id)
        if task is None:
            return
        if task.stopped is None:
            task.stopped = Stopped.CANCELLED
        worker = self._pools.get(_key(task.request), self._pools[""]).worker
        if task.pid is None and worker is not None:
            # Sent to the worker and maybe forked already: the worker kills it at once
            # (and the start, when it is reported, kills it again).
            worker.send({"op": "cancel", "id": task_id})
        self._kill(task, _signal.SIGKILL)

    def reclaim(self, pid: int | None, log_path: str | None) -> None:
        """Kill the process group of a task an earlier engine started on this machine.

        Only processes of this machine can be seen, and a pid counts as the task's only
        while its output goes to the attempt's log; without a recorded pid, the task is
        looked for by that log.
        """
        pids = [pid] if pid is not None else processes_writing_to(log_path)
        for p in pids:
            kill_task_group(p, log_path)

    # ------------------------------------------------------------------ worker deaths

    def _worker_died(self, died: WorkerDied) -> list[ExecEvent]:
        """The worker's tasks that had started are lost (the reader stopped them); those
        it never started go to the worker that replaces it."""
        worker = died.worker
        pool = next((p for p in self._pools.values() if p.worker is worker), None)
        if pool is None:
            return []  # one we closed ourselves
        reason = worker.describe_death(died.status)
        held, pids = worker.unreported()
        pool.worker = None
        self._restarts += 1
        if self._restarts > MAX_WORKER_RESTARTS:
            # It keeps dying (its imports crash it, or memory is short): start every
            # task in an interpreter of its own from now on.
            self._fresh_only = True
        else:
            try:
                self._start_worker(pool)
            except OSError:  # no process can be started now: try each task on its own
                self._fresh_only = True
        lost = [
            ExecEvent("lost", task_id, pid=pids[task_id], reason=reason)
            for task_id in held
            if task_id in pids
        ]
        for task_id, request in held.items():
            task = self._tasks.get(task_id)
            if task_id not in pids and task is not None:
                self._launch(request, task.env)
        return lost

    def _oom_kills(self) -> int:
        """The out-of-memory kill count, read at most every :data:`OOM_READ_SECONDS`
        (reading it costs more than forking a task)."""
        now = time.monotonic()
        if self._oom_read is None or now - self._oom_read[0] >= OOM_READ_SECONDS:
            self._oom_read = (now, oom_kills())
        return self._oom_read[1]

    def _memory_evidence(self, task: _Task) -> str | None:
        """Why a task killed by SIGKILL may have run out of memory, if there is a sign:
        the kernel's out-of-memory killer struck while it ran, or it was close to its
        memory request."""
        if oom_kills() > task.oom_seen:
            return "the kernel's out-of-memory killer ended a process while it ran"
        limit = task.request.resources.memory
        if limit and task.peak >= NEAR_MEMORY_REQUEST * limit:
            return (
                f"it used {task.peak / 2**20:.0f} MiB of its {limit / 2**20:.0f} MiB memory request"
            )
        return None

    def close(self) -> None:
        # Starts not yet taken from the queue name processes too: every one is stopped.
        for item in self._take(0):
            if isinstance(item, ExecEvent) and item.kind == "started" and item.id in self._tasks:
                self._tasks[item.id].pid = item.pid
        for pool in self._pools.values():
            if pool.worker is not None:
                for task_id, pid in pool.worker.unreported()[1].items():
                    if task_id in self._tasks:
                        self._tasks[task_id].pid = pid
        for task in self._tasks.values():
            self._kill(task, _signal.SIGKILL)
        for pool in self._pools.values():
            if pool.worker is not None:
                pool.worker.close()
                pool.worker = None
            if pool.lease is not None:
                pool.lease.release()
                pool.lease = None


def read_at_start(env: dict[str, str]) -> bool:
    """Whether ``env`` sets a variable read only as a process starts (:data:`READ_AT_START`)."""
    return any(fnmatchcase(name, p) for name in env for p in READ_AT_START)


def _overrides(pool: _Pool) -> dict[str, str]:
    """What a pool's processes get on top of a task's base environment. The default
    pool's tasks see this process's import path as it is when they start."""
    if pool.key:
        return pool.overrides
    return {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


def _key(request: TaskRequest) -> str:
    """The pool a request runs in: its environment's digest, or "" for none."""
    return request.environment.digest if request.environment is not None else ""
