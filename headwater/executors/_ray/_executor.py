"""The Ray executor itself: submitting attempts as Ray tasks and turning what they report
into events (see the package docstring)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import queue
import signal as _signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ray
import ray.exceptions
import ray.util.scheduling_strategies

from headwater.executors._base import (
    Environment,
    ExecEvent,
    Report,
    Resources,
    Stopped,
    TaskRequest,
    write_task_input,
)
from headwater.executors._environment import allowed_environment, allowed_patterns
from headwater.executors._ray._cluster import (
    PROBE_SECONDS,
    check_shared_storage,
    demand_of,
    fits,
    live_nodes,
    one_node_per_host,
    refusal,
)
from headwater.executors._ray._connect import connect
from headwater.executors._ray._node import remote_function
from headwater.executors._ray_options import ray_refuse

# How long one wait for Ray news lasts before a wake() is looked for.
WAIT_SLICE_SECONDS = 0.05
# How old the list of the cluster's nodes may get before it is read again.
NODES_TTL_SECONDS = 5.0
# How long close() waits for Ray to confirm that it stopped the running tasks.
CLOSE_WAIT_SECONDS = 5.0
NOTHING = Resources()


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


class RayExecutor:
    """Task attempts as Ray tasks on a Ray cluster (see the package docstring)."""

    name = "ray"
    refuse = staticmethod(ray_refuse)

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
            if fits(demand, self._free(node_id)):
                return node_id
        return None

    def _count(self, node_id: str | None, demand: Mapping[str, float], sign: float) -> None:
        if node_id is None:
            return
        used = self._used.setdefault(node_id, {})
        for k, v in demand.items():
            used[k] = used.get(k, 0.0) + sign * v

    def check(self, resources: Resources, environment: Environment | None = None) -> str | None:
        # Ray runs a job's tasks on the driver's Python version: so do its environments.
        here = environment.other_interpreter() if environment is not None else None
        if environment is not None and here is not None:
            return (
                f"asks for an environment for {environment.python}, but the Ray "
                f"cluster runs this job on {here}; resolve its packages for {here}"
            )
        demand = demand_of(resources)
        nodes = self._fresh_nodes()
        if any(fits(demand, total) for total in nodes.values()):
            return None
        self._read_nodes()  # the cluster may have grown since
        if any(fits(demand, total) for total in self._nodes.values()):
            return None
        return refusal(resources, list(self._nodes.values()))

    def has_room(self, resources: Resources) -> bool:
        """A free slot and, for a task that asks for resources, a node with room for them
        by this executor's own count (Ray queues what other drivers' tasks hold up; the
        task is reported started only once its process runs)."""
        if len(self._tasks) >= self.max_parallel:
            return False
        return resources == NOTHING or self._place(demand_of(resources)) is not None

    # ------------------------------------------------------------------ tasks

    def warm(self) -> None:
        """Nothing to start: the connection is made when the executor is."""

    def preload_file(self, path: str, imports: Sequence[str] = ()) -> None:
        root, name = os.path.split(os.path.abspath(path))
        self._preloads.append((root, os.path.splitext(name)[0], name, tuple(imports)))

    def start(self, preload: list[tuple[str, str, str]], imports: list[str]) -> None:
        self._preloads.extend((root, module, file, ()) for root, module, file in preload)
        if imports:
            self._preloads.append(("", "", "", tuple(imports)))

    def prepare(
        self,
        environment: Environment,
        preload: list[tuple[str, str, str]],
        report: Report | None = None,
        imports: Sequence[str] = (),
    ) -> None:
        """Per-step environments are made on the nodes: the first attempt that needs one
        on a node builds it there (once, under a lock, in that node's environment
        cache) and forks its tasks from a warm worker on it, as the local executor does.
        Here only its modules are noted, for the nodes' workers to import."""
        self._preloads.extend((root, module, file, ()) for root, module, file in preload)
        if imports:
            self._preloads.append(("", "", "", tuple(imports)))

    def submit(self, request: TaskRequest) -> None:
        problem = self.check(request.resources, request.environment)
        if problem:
            raise ValueError(f"task {request.id} {problem}")
        if request.id in self._tasks:
            raise ValueError(f"task {request.id} was already submitted")
        write_task_input(request)  # the node reads it from the shared file system
        r = request.resources
        demand = demand_of(r)
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
            "environment": None
            if request.environment is None
            else dataclasses.asdict(request.environment),
        }
        gen = remote_function("run").options(**options).remote(spec)
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
        nodes = one_node_per_host(live_nodes())
        fn = remote_function("reclaim")
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
