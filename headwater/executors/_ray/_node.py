"""What runs on a node of the cluster: the Ray task of one attempt, which runs it with a
local executor of its own, and the guard that kills its process groups when the Ray
worker dies."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import ray

from headwater.executors._base import Environment, Resources, TaskRequest
from headwater.executors._environment import ALLOW_SETTING
from headwater.executors._local import LocalExecutor
from headwater.executors._processes import kill_task_group, processes_writing_to


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
        self.prepared: set[str] = set()  # the digests of environments made ready here
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
        environment = None
        if task.get("environment") is not None:
            e = task["environment"]
            environment = Environment(
                e["digest"], tuple(e["requirements"]), e["python"], tuple(e["requested"])
            )
            if environment.digest not in self.prepared:  # built here once, then warm
                self.prepared.add(environment.digest)
                modules = [(r, m, f) for r, m, f, _ in task["preloads"] if m]
                imports = sorted({i for *_, found in task["preloads"] for i in found})
                if task["fresh"]:
                    modules, imports = [], []
                ex.prepare(environment, modules, imports=imports)
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
            environment=environment,
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


def remote_function(name: str) -> Any:
    """The Ray remote function for one of this module's node-side functions."""
    fn = _remote_functions.get(name)
    if fn is None:
        target: Any = {"run": run_attempt, "reclaim": reclaim_here, "sees": sees_file}[name]
        fn = ray.remote(max_retries=0, retry_exceptions=False)(target)
        _remote_functions[name] = fn
    return fn
