"""The Ray executor: every task attempt is a Ray task on a Ray cluster (docs/adr/0013).

Each attempt is one Ray task with ``max_retries=0`` (retries are Headwater's: one policy,
one state machine) asking Ray for the attempt's CPUs (one when it asks for none, as Ray's
own tasks do), GPUs, memory, accelerator type and custom resources. On the node Ray picks,
the Ray task runs the attempt the way the local executor does, by driving a
:class:`~headwater.executors.LocalExecutor` of its own: forked from a warm worker, or
``python -m headwater.runtime INPUT`` in a fresh interpreter; in its own session, its
output going to the attempt's log, with a scrubbed environment and
``CUDA_VISIBLE_DEVICES`` set to the GPUs Ray gave it; its timeout and memory request are
enforced there. The Ray task is a generator: it yields once when the task process has
started (its pid and node) and once when it has ended (exit status, why it was stopped,
peak memory, wall time).

A Ray worker that dies (a forced cancel, a crash, its node going away) cannot stop what
it started, and Ray kills only a dead worker's direct children. So each Ray worker
starts, once, a small guard process outside its own process tree, and tells it the
process group of each task it runs; when the worker's end of the pipe closes, the guard
kills every group it still holds.

The engine's process connects to the cluster (``ray.init``) once. Task files (input,
output, log) and artifacts are read and written where the engine put them, so on a
cluster of more than one host ``HEADWATER_HOME`` and ``HEADWATER_ARTIFACT_ROOT`` must be
reachable from every node: the executor checks that and refuses to start otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal as _signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import ray
import ray.exceptions
import ray.util.scheduling_strategies

from headwater._config import Settings
from headwater.errors import ConfigurationError
from headwater.executors._base import ExecEvent, Resources, Stopped, TaskRequest
from headwater.executors._environment import ALLOW_SETTING, allowed_environment, allowed_patterns
from headwater.executors._local import LocalExecutor
from headwater.executors._processes import kill_task_group, processes_writing_to

ADDRESS_SETTING = "HEADWATER_RAY_ADDRESS"
# How long one wait for Ray news lasts before a wake() is looked for.
WAIT_SLICE_SECONDS = 0.05
# How old the list of the cluster's nodes may get before it is read again.
NODES_TTL_SECONDS = 5.0
# How long close() waits for Ray to confirm that it stopped the running tasks.
CLOSE_WAIT_SECONDS = 5.0
# How long reclaim() and the shared-storage probe wait for their Ray tasks.
PROBE_SECONDS = 30.0
NOTHING = Resources()

log = logging.getLogger("headwater.executors.ray")


# ---------------------------------------------------------------------- connecting

_connect_lock = threading.Lock()
_connected: str | None = None


def ray_address(address: str | None = None) -> str:
    """The cluster to use: ``address``, else ``HEADWATER_RAY_ADDRESS``, else Ray's own
    ``RAY_ADDRESS``, else ``auto`` (the cluster started on this machine)."""
    return (
        address or os.environ.get(ADDRESS_SETTING) or os.environ.get("RAY_ADDRESS") or "auto"
    ).strip()


def _reachable(address: str) -> str | None:
    """Why ``host:port`` cannot be reached, or None (a quick look before Ray's own,
    slower, retries)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return f"'{address}' is not HOST:PORT"
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=3):
            return None
    except OSError as exc:
        return exc.strerror or str(exc)


def connect(address: str | None = None) -> str:
    """Connect this process to the Ray cluster at ``address`` (see :func:`ray_address`)
    once; later calls reuse the connection. Raises ConfigurationError when it cannot."""
    global _connected
    wanted = ray_address(address)
    hint = (
        f"start a cluster with 'ray start --head' and pass its address (--ray-address, "
        f"{ADDRESS_SETTING} or RAY_ADDRESS), or 'auto' for the one started on this machine"
    )
    if wanted.startswith("ray://"):
        raise ConfigurationError(
            f"the Ray executor cannot use a Ray Client address ('{wanted}')",
            hint="run Headwater on a node of the cluster: 'ray start --address HEAD:6379 "
            "--num-cpus 0' on its machine, then use --ray-address auto",
        )
    with _connect_lock:
        if ray.is_initialized():
            if _connected not in (None, wanted) and address is not None:
                raise ConfigurationError(
                    f"this process is already connected to the Ray cluster at {_connected}, "
                    f"not {wanted}",
                    hint="use one Ray cluster per Headwater process",
                )
            return _connected or wanted
        if wanted != "auto":
            problem = _reachable(wanted)
            if problem is not None:
                raise ConfigurationError(
                    f"cannot reach the Ray cluster at {wanted}: {problem}", hint=hint
                )
        try:
            ray.init(
                address=wanted,
                namespace="headwater",
                log_to_driver=False,  # a task's output goes to its attempt's log
                logging_level=logging.WARNING,
                include_dashboard=False,
            )
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise ConfigurationError(
                f"cannot connect to the Ray cluster at {wanted}: {message}", hint=hint
            ) from exc
        _connected = wanted
        return wanted


# ---------------------------------------------------------------------- on a node


@dataclass
class _Guard:
    """A process outside this Ray worker's tree that kills the process groups it was
    told of when this worker's end of its pipe closes, however the worker ended."""

    pipe: IO[bytes] | None = None

    _CODE = (
        "import os, signal, sys\n"
        "if os.fork():\n"
        "    os._exit(0)\n"  # its parent exits: the guard is nobody's child in the worker
        "os.setsid()\n"
        "groups = set()\n"
        "for line in sys.stdin.buffer:\n"
        "    op, pgid = line[:1], int(line[1:])\n"
        "    (groups.add if op == b'+' else groups.discard)(pgid)\n"
        "for pgid in groups:\n"
        "    try:\n"
        "        os.killpg(pgid, signal.SIGKILL)\n"
        "    except OSError:\n"
        "        pass\n"
    )

    def _start(self) -> None:
        proc = subprocess.Popen(
            [sys.executable, "-S", "-c", self._CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={"PATH": os.environ.get("PATH", "")},
        )
        proc.wait()  # the guard's parent, which exits at once
        self.pipe = proc.stdin

    def send(self, op: str, pgid: int) -> None:
        if self.pipe is None:
            self._start()
        assert self.pipe is not None
        try:
            self.pipe.write(f"{op}{pgid}\n".encode())
            self.pipe.flush()
        except OSError:  # the guard is gone: start another for the next task
            self.pipe = None


class _NodeSide:
    """What one Ray worker process keeps between the attempts it runs."""

    def __init__(self) -> None:
        # Tasks get the engine's allowed variables with them; what this node's
        # environment would allow is not theirs to see.
        os.environ.pop(ALLOW_SETTING, None)
        self.executor = LocalExecutor(max_parallel=1 << 20)
        self.guard = _Guard()
        self.groups: set[int] = set()  # the process groups the guard holds
        self.preloaded: set[str] = set()
        context = ray.get_runtime_context()
        self.node_id = context.get_node_id()
        ip = ray.util.get_node_ip_address()
        self.label = f"{ip} ({socket.gethostname()})"

    def run(self, task: dict[str, Any]) -> Iterator[dict[str, Any]]:
        ex = self.executor
        self._let_go()
        if not task["fresh"]:
            ex.warm()
            for root, module, file, imports in task["preloads"]:
                key = repr((root, module, file, imports))
                if key not in self.preloaded:
                    self.preloaded.add(key)
                    ex.start([(root, module, file)] if module else [], list(imports))
        env = dict(task["env"])
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in ray.get_gpu_ids())
        request = TaskRequest(
            id=task["id"],
            input_path=task["input"],
            log_path=task["log"],
            env=env,
            cwd=task["cwd"],
            resources=Resources(memory=task["memory"]),
            fresh_interpreter=task["fresh"],
            timeout_seconds=task["timeout"],
        )
        ex.submit(request)
        while True:
            for ev in ex.events(None):
                if ev.id != request.id:
                    continue
                if ev.kind == "started":
                    if ev.pid is not None:
                        self.guard.send("+", ev.pid)
                        self.groups.add(ev.pid)
                    yield {
                        "kind": "started",
                        "pid": ev.pid,
                        "node": self.label,
                        "node_id": self.node_id,
                    }
                elif ev.kind in ("exited", "lost"):
                    self._let_go()
                    yield {
                        "kind": ev.kind,
                        "pid": ev.pid,
                        "status": ev.status,
                        "reason": ev.reason,
                        "oom": ev.oom,
                        "stopped": None if ev.stopped is None else str(ev.stopped),
                        "peak_rss": ev.peak_rss,
                        "wall_seconds": ev.wall_seconds,
                    }
                    return

    def _let_go(self) -> None:
        """Tell the guard to forget the process groups of ended tasks that are empty.

        A group that still has members (what a task left running, or what is left when
        the task's process was killed as this worker is being killed) stays with the
        guard, which kills it if this worker dies."""
        for pgid in list(self.groups):
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                self.groups.discard(pgid)
                self.guard.send("-", pgid)
            except PermissionError:  # a pid reused by another user's program
                self.groups.discard(pgid)
                self.guard.send("-", pgid)


_node_side: _NodeSide | None = None


def run_attempt(task: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The Ray task of one attempt (it runs on a node): yields its start, then its end."""
    global _node_side
    if _node_side is None:
        _node_side = _NodeSide()
    yield from _node_side.run(task)


def reclaim_here(pid: int | None, log_path: str | None) -> int:
    """On a node: kill what is left of an attempt there (see LocalExecutor.reclaim);
    returns how many process groups were looked at."""
    pids = [pid] if pid is not None else processes_writing_to(log_path)
    for p in pids:
        kill_task_group(p, log_path)
    return len(pids)


def sees_file(path: str) -> bool:
    """On a node: whether ``path`` exists there."""
    return os.path.exists(path)


_remote_functions: dict[str, Any] = {}


def _remote(name: str) -> Any:
    """The Ray remote function for one of this module's node-side functions."""
    fn = _remote_functions.get(name)
    if fn is None:
        target: Any = {"run": run_attempt, "reclaim": reclaim_here, "sees": sees_file}[name]
        fn = ray.remote(max_retries=0, retry_exceptions=False)(target)
        _remote_functions[name] = fn
    return fn


# ---------------------------------------------------------------------- the cluster


def live_nodes() -> list[dict[str, Any]]:
    """Ray's records of the cluster's live nodes."""
    nodes: list[dict[str, Any]] = ray.nodes()
    return [n for n in nodes if n.get("Alive")]


def _demand(r: Resources) -> dict[str, float]:
    """What the Ray task of a request asks the cluster for, by Ray resource name."""
    demand = {"CPU": r.cpu or 1.0}
    if r.gpu:
        demand["GPU"] = float(r.gpu)
    if r.memory:
        demand["memory"] = float(r.memory)
    if r.accelerator:
        demand[f"accelerator_type:{r.accelerator}"] = 0.001
    for name, amount in r.custom.items():
        demand[name] = float(amount)
    return demand


def _fits(demand: Mapping[str, float], free: Mapping[str, float]) -> bool:
    return all(free.get(k, 0.0) + 1e-9 >= v for k, v in demand.items())


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def _refusal(r: Resources, nodes: list[Mapping[str, float]]) -> str:
    """Why no node of ``nodes`` (their total resources) can ever run a request."""
    most = {k: max((n.get(k, 0.0) for n in nodes), default=0.0) for k in _demand(r)}
    if not nodes:
        return "cannot run: the Ray cluster has no live node"
    demand = _demand(r)
    if demand["CPU"] > most["CPU"]:
        return (
            f"asks for {demand['CPU']:g} CPUs but no node of the Ray cluster has more "
            f"than {most['CPU']:g}"
        )
    if r.gpu and r.gpu > most["GPU"]:
        return (
            f"asks for {r.gpu} GPU(s) but no node of the Ray cluster has more than {most['GPU']:g}"
        )
    if r.memory and r.memory > most["memory"]:
        return (
            f"asks for {_gib(r.memory)} of memory but no node of the Ray cluster offers "
            f"more than {_gib(most['memory'])} to tasks"
        )
    if r.accelerator and not most[f"accelerator_type:{r.accelerator}"]:
        return f"asks for accelerator '{r.accelerator}' but no node of the Ray cluster has one"
    for name, amount in r.custom.items():
        if amount > most[name]:
            have = f"more than {most[name]:g}" if most[name] else "it"
            return (
                f"asks for resource '{name}' = {amount:g} but no node of the Ray cluster has {have}"
            )
    return (
        f"asks for {', '.join(f'{k}={v:g}' for k, v in demand.items())}, but no single node "
        "of the Ray cluster has all of it"
    )


def _is_local_path(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


def _local_path(url: str) -> str:
    return url[len("file://") :] if url.startswith("file://") else url


def hosts_blind_to(path: str, nodes: list[dict[str, Any]]) -> list[str]:
    """The hosts of ``nodes`` (one node of each is asked) on which ``path`` does not exist."""
    sees = _remote("sees")
    refs = {}
    for node in _one_node_per_host(nodes):
        strategy = ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(
            node["NodeID"], soft=False
        )
        refs[node["NodeManagerHostname"]] = sees.options(
            num_cpus=0, scheduling_strategy=strategy
        ).remote(path)
    blind = []
    for host, ref in refs.items():
        try:
            if not ray.get(ref, timeout=PROBE_SECONDS):
                blind.append(host)
        except (ray.exceptions.RayError, ray.exceptions.GetTimeoutError):
            blind.append(host)
    return sorted(blind)


def _probe_shared(folder: str, nodes: list[dict[str, Any]]) -> list[str]:
    """The hosts of ``nodes`` that do not see a file written to ``folder`` here."""
    os.makedirs(folder, exist_ok=True)
    marker = os.path.join(folder, f".headwater-probe-{uuid.uuid4().hex}")
    with open(marker, "w"):
        pass
    try:
        return hosts_blind_to(marker, nodes)
    finally:
        with contextlib.suppress(OSError):
            os.remove(marker)


def _one_node_per_host(
    nodes: list[dict[str, Any]], skip: str | None = None
) -> list[dict[str, Any]]:
    by_host: dict[str, dict[str, Any]] = {}
    for node in nodes:
        host = node["NodeManagerHostname"]
        if host != skip:
            by_host.setdefault(host, node)
    return list(by_host.values())


_shared_checked: set[tuple[str, ...]] = set()


def check_shared_storage(nodes: list[dict[str, Any]], settings: Settings | None = None) -> None:
    """Refuse a cluster of several hosts when a local folder the tasks read and write
    (``HEADWATER_HOME``, a local ``HEADWATER_ARTIFACT_ROOT``) is not seen by all of them."""
    here = socket.gethostname()
    hosts = {n["NodeManagerHostname"] for n in nodes} | {here}
    if len(hosts) < 2:
        return
    s = settings or Settings.from_env()
    folders = [("HEADWATER_HOME", str(s.home))]
    if _is_local_path(s.artifact_root):
        folders.append(("HEADWATER_ARTIFACT_ROOT", _local_path(s.artifact_root)))
    key = (*sorted(hosts), *(f for _, f in folders))
    if key in _shared_checked:
        return
    others = _one_node_per_host(nodes, skip=here)
    for setting, folder in folders:
        blind = _probe_shared(folder, others)
        if blind:
            raise ConfigurationError(
                f"{setting} is {folder}, a folder that the Ray nodes on "
                f"{', '.join(sorted(blind))} cannot see; on a Ray cluster of several hosts "
                "every node reads and writes the task files and artifacts there",
                hint="set HEADWATER_ARTIFACT_ROOT to an object store (s3://..., gs://...) "
                "or a shared filesystem, and HEADWATER_HOME to a folder on a shared "
                "filesystem mounted at the same path on every node",
            )
    _shared_checked.add(key)


# ---------------------------------------------------------------------- the executor


@dataclass
class _RayTask:
    """A submitted attempt the executor has not yet reported ended."""

    request: TaskRequest
    gen: Any  # the Ray task's ObjectRefGenerator
    demand: dict[str, float]
    node_id: str | None  # where it is counted: where it runs, or where it may
    pid: int | None = None
    node: str | None = None
    started: float | None = None  # monotonic
    stopped: Stopped | None = None
    events: list[ExecEvent] = field(default_factory=list)


class RayExecutor:
    """Task attempts as Ray tasks on a Ray cluster (see the module docstring)."""

    name = "ray"

    def __init__(self, max_parallel: int | None = None, *, address: str | None = None) -> None:
        allowed_patterns()  # a bad allow-list is refused before anything starts
        self.address = connect(address)
        self._nodes: dict[str, dict[str, float]] = {}
        self._nodes_read = 0.0
        self._used: dict[str, dict[str, float]] = {}
        nodes = self._read_nodes()
        check_shared_storage(nodes)
        cpus = sum(n.get("CPU", 0.0) for n in self._nodes.values())
        self.max_parallel = max_parallel or max(1, int(cpus))
        self._tasks: dict[str, _RayTask] = {}
        self._by_gen: dict[int, _RayTask] = {}  # by id() of the Ray task's generator
        self._queue: queue.Queue[ExecEvent] = queue.Queue()
        self._preloads: list[tuple[str, str, str, tuple[str, ...]]] = []

    # ------------------------------------------------------------------ capacity

    def _read_nodes(self) -> list[dict[str, Any]]:
        """Read the live nodes and what each offers; returns Ray's records of them."""
        alive = live_nodes()
        self._nodes = {
            n["NodeID"]: {
                k: float(v)
                for k, v in n["Resources"].items()
                if not k.startswith("node:") and k != "object_store_memory"
            }
            for n in alive
        }
        self._nodes_read = time.monotonic()
        for node_id in self._nodes:
            self._used.setdefault(node_id, {})
        return alive

    def _fresh_nodes(self) -> dict[str, dict[str, float]]:
        if time.monotonic() - self._nodes_read > NODES_TTL_SECONDS:
            self._read_nodes()
        return self._nodes

    def _free(self, node_id: str) -> dict[str, float]:
        used = self._used.get(node_id, {})
        return {k: v - used.get(k, 0.0) for k, v in self._nodes[node_id].items()}

    def _place(self, demand: Mapping[str, float]) -> str | None:
        """A node with room for ``demand`` now, by this executor's own count."""
        for node_id in sorted(self._fresh_nodes()):
            if _fits(demand, self._free(node_id)):
                return node_id
        return None

    def _count(self, node_id: str | None, demand: Mapping[str, float], sign: float) -> None:
        if node_id is None:
            return
        used = self._used.setdefault(node_id, {})
        for k, v in demand.items():
            used[k] = used.get(k, 0.0) + sign * v

    def check(self, resources: Resources, environment: str | None = None) -> str | None:
        if environment is not None:
            return (
                f"asks for environment '{environment}', which the Ray executor cannot "
                "provide; run it without one"
            )
        demand = _demand(resources)
        nodes = self._fresh_nodes()
        if any(_fits(demand, total) for total in nodes.values()):
            return None
        self._read_nodes()  # the cluster may have grown since
        if any(_fits(demand, total) for total in self._nodes.values()):
            return None
        return _refusal(resources, list(self._nodes.values()))

    def has_room(self, resources: Resources) -> bool:
        """A free slot and, for a task that asks for resources, a node with room for them
        by this executor's own count (Ray queues what other drivers' tasks hold up; the
        task is reported started only once its process runs)."""
        if len(self._tasks) >= self.max_parallel:
            return False
        return resources == NOTHING or self._place(_demand(resources)) is not None

    # ------------------------------------------------------------------ tasks

    def warm(self) -> None:
        """Nothing to start: the connection is made when the executor is."""

    def preload_file(self, path: str) -> None:
        root, name = os.path.split(os.path.abspath(path))
        self._preloads.append((root, os.path.splitext(name)[0], name, ()))

    def start(self, preload: list[tuple[str, str, str]], imports: list[str]) -> None:
        self._preloads.extend((root, module, file, ()) for root, module, file in preload)
        if imports:
            self._preloads.append(("", "", "", tuple(imports)))

    def submit(self, request: TaskRequest) -> None:
        problem = self.check(request.resources, request.environment)
        if problem:
            raise ValueError(f"task {request.id} {problem}")
        if request.id in self._tasks:
            raise ValueError(f"task {request.id} was already submitted")
        r = request.resources
        demand = _demand(r)
        options: dict[str, Any] = {"num_cpus": demand["CPU"]}
        if r.gpu:
            options["num_gpus"] = r.gpu
        if r.memory:
            options["memory"] = r.memory
        if r.accelerator:
            options["accelerator_type"] = r.accelerator
        if r.custom:
            options["resources"] = {k: float(v) for k, v in r.custom.items()}
        spec = {
            "id": request.id,
            "input": request.input_path,
            "log": request.log_path,
            "env": {**allowed_environment(), **request.env},
            "cwd": request.cwd,
            "memory": r.memory,
            "fresh": request.fresh_interpreter,
            "timeout": request.timeout_seconds,
            "preloads": self._preloads,
        }
        gen = _remote("run").options(**options).remote(spec)
        task = _RayTask(request, gen, demand, self._place(demand))
        self._count(task.node_id, demand, +1)
        self._tasks[request.id] = task
        self._by_gen[id(gen)] = task

    # ------------------------------------------------------------------ events

    def wake(self) -> None:
        """Make a waiting ``events()`` call return now (safe from a signal handler)."""
        self._queue.put(ExecEvent("wake", ""))

    def events(self, timeout: float | None) -> list[ExecEvent]:
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            out = self._drain()
            out.extend(self._collect(0))
            if out:
                return out
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                return []
            if not self._by_gen:
                try:  # nothing runs: only a wake can be news
                    out.append(self._queue.get(timeout=left))
                except queue.Empty:
                    return []
                return out + self._drain()
            wait = WAIT_SLICE_SECONDS if left is None else min(left, WAIT_SLICE_SECONDS)
            out.extend(self._collect(wait))
            if out:
                return out + self._drain()

    def _drain(self) -> list[ExecEvent]:
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def _collect(self, wait: float) -> list[ExecEvent]:
        """What the Ray tasks reported, waiting up to ``wait`` seconds for the first news."""
        if not self._by_gen:
            return []
        gens = [task.gen for task in self._by_gen.values()]
        ready, rest = ray.wait(gens, num_returns=1, timeout=wait, fetch_local=True)
        if ready and rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0, fetch_local=True)
            ready += more
        out: list[ExecEvent] = []
        for gen in ready:
            task = self._by_gen.get(id(gen))
            while task is not None:
                ev = self._next(task)
                if ev is None:
                    break
                out.append(ev)
                if ev.kind != "started":
                    self._forget(task)
                    break
                if not ray.wait([gen], timeout=0, fetch_local=True)[0]:
                    break  # the end is not there yet
        return out

    def _next(self, task: _RayTask) -> ExecEvent | None:
        """The next event of ``task`` (its generator has news)."""
        request = task.request
        try:
            record = ray.get(next(task.gen))
        except StopIteration:
            return self._lost(task, "its Ray task ended without reporting how the task ended")
        except ray.exceptions.RayError as exc:
            return self._failed(task, exc)
        if record["kind"] == "started":
            task.pid = record["pid"]
            task.node = record["node"]
            task.started = time.monotonic()
            if record["node_id"] != task.node_id:  # count it where it runs
                self._count(task.node_id, task.demand, -1)
                task.node_id = record["node_id"]
                self._count(task.node_id, task.demand, +1)
            return ExecEvent("started", request.id, pid=task.pid, node=task.node)
        stopped = task.stopped or (Stopped(record["stopped"]) if record["stopped"] else None)
        return ExecEvent(
            record["kind"],
            request.id,
            pid=record["pid"],
            status=record["status"],
            reason=record["reason"],
            oom=record["oom"],
            stopped=stopped,
            peak_rss=record["peak_rss"],
            wall_seconds=record["wall_seconds"],
        )

    def _failed(self, task: _RayTask, exc: Exception) -> ExecEvent:
        """The event for a Ray task that raised ``exc`` instead of reporting an end."""
        if task.stopped is Stopped.CANCELLED:
            return ExecEvent(
                "exited",
                task.request.id,
                pid=task.pid,
                status=-_signal.SIGKILL,
                stopped=Stopped.CANCELLED,
                wall_seconds=self._wall(task),
            )
        where = f" on node {task.node}" if task.node else ""
        if isinstance(exc, ray.exceptions.NodeDiedError):
            reason = f"the Ray node running it died{where}"
        elif isinstance(exc, ray.exceptions.OutOfMemoryError):
            reason = f"Ray's memory monitor killed the Ray worker running it{where}"
        elif isinstance(exc, ray.exceptions.WorkerCrashedError):
            reason = f"the Ray worker process running it died{where}"
        elif isinstance(exc, ray.exceptions.TaskCancelledError):
            reason = f"its Ray task was cancelled outside Headwater{where}"
        elif isinstance(exc, ray.exceptions.RayTaskError):
            cause = exc.cause if exc.cause is not None else exc
            reason = f"its Ray task failed{where}: {type(cause).__name__}: {cause}"
        else:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            reason = f"Ray could not run it{where}: {first}"
        self._read_nodes()  # a node may have gone
        return self._lost(task, reason)

    def _lost(self, task: _RayTask, reason: str) -> ExecEvent:
        return ExecEvent(
            "lost", task.request.id, pid=task.pid, reason=reason, wall_seconds=self._wall(task)
        )

    @staticmethod
    def _wall(task: _RayTask) -> float | None:
        return None if task.started is None else time.monotonic() - task.started

    def _forget(self, task: _RayTask) -> None:
        self._tasks.pop(task.request.id, None)
        self._by_gen.pop(id(task.gen), None)
        self._count(task.node_id, task.demand, -1)

    # ------------------------------------------------------------------ stopping

    def cancel(self, task_id: str) -> None:
        """Stop a task now: Ray kills the worker running it, and that worker's guard kills
        the task's process group (a task not started yet never starts)."""
        task = self._tasks.get(task_id)
        if task is None:
            return
        if task.stopped is None:
            task.stopped = Stopped.CANCELLED
        with contextlib.suppress(Exception):  # it may have ended meanwhile
            ray.cancel(task.gen, force=True)

    def reclaim(self, pid: int | None, log_path: str | None) -> None:
        """Stop what is left of a task an earlier engine started (best effort).

        Ray ends the Ray tasks of an engine whose process ended, and their guards kill the
        task processes; what is looked for here is anything that outlived that. One node
        of each host of the cluster looks for the process group that ``pid`` leads while
        its output goes to ``log_path`` (or, without a pid, the processes writing to that
        log) and kills it. A host that does not answer within 30 seconds is skipped.
        """
        nodes = _one_node_per_host(live_nodes())
        fn = _remote("reclaim")
        refs = []
        for node in nodes:
            strategy = ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(
                node["NodeID"], soft=False
            )
            refs.append(fn.options(num_cpus=0, scheduling_strategy=strategy).remote(pid, log_path))
        with contextlib.suppress(ray.exceptions.RayError, ray.exceptions.GetTimeoutError):
            ray.wait(refs, num_returns=len(refs), timeout=PROBE_SECONDS)

    def close(self) -> None:
        """Stop every task still running (Ray's connection stays for the next executor)."""
        gens = [task.gen for task in self._by_gen.values()]
        for task in list(self._tasks.values()):
            self.cancel(task.request.id)
        if gens:
            with contextlib.suppress(Exception):
                ray.wait(gens, num_returns=len(gens), timeout=CLOSE_WAIT_SECONDS)
        self._tasks.clear()
        self._by_gen.clear()
