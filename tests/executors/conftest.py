"""The executor conformance suite's harness: every test here runs against every
executor in :data:`EXECUTORS` (docs/adr/0012). An executor joins Headwater by passing
it. The Ray executor runs on a real two-node Ray cluster (``ray_cluster.py``: a head at
127.0.0.2, a worker at 127.0.0.3 with 2 fake GPUs and the resource ``special``), started
once for this folder and stopped when its tests are done; the Ray executor's own tests
(``test_ray_*.py``) use it too."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from headwater.executors import (
    Environment,
    ExecEvent,
    Executor,
    LocalExecutor,
    Resources,
    TaskRequest,
    make_executor,
)
from headwater.runtime import TASK_SCHEMA, write_json

TASKS_MODULE = "conformance_tasks"
HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent / "pipelines"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from ray_cluster import RayCluster, running_cluster  # noqa: E402

_cluster: list[RayCluster] = []  # the running cluster, if any
_cluster_stack = contextlib.ExitStack()


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    """The two-node Ray cluster, started on first use; stopped once this folder's tests
    are done (see pytest_runtest_teardown), so it does not idle beside the others."""
    if not _cluster:
        _cluster.append(_cluster_stack.enter_context(running_cluster()))
    yield _cluster[0]
    _stop_cluster()


def _stop_cluster() -> None:
    _cluster.clear()
    _cluster_stack.close()


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if _cluster and (nextitem is None or HERE not in Path(nextitem.path).parents):
        _stop_cluster()


@dataclass(frozen=True)
class Flavour:
    """One executor set up one way: how to make it (given the Ray cluster's address, if
    it needs one), and how its requests look."""

    make: Callable[[str | None], Executor]
    fresh_interpreter: bool = False
    needs_ray: bool = False


def _ray(address: str | None) -> Executor:
    return make_executor("ray", max_parallel=4, address=address)


EXECUTORS: dict[str, Flavour] = {
    # Tasks forked from a warm worker, and tasks in an interpreter of their own.
    "local-forked": Flavour(lambda _: LocalExecutor(max_parallel=4)),
    "local-fresh": Flavour(lambda _: LocalExecutor(max_parallel=4), fresh_interpreter=True),
    # The same two ways, each attempt a Ray task on a node of a two-node cluster.
    "ray-forked": Flavour(_ray, needs_ray=True),
    "ray-fresh": Flavour(_ray, fresh_interpreter=True, needs_ray=True),
}


def task_request(
    root: Path, task_id: str, module: str, function: str, arg: str, returns: bool, **options: Any
) -> TaskRequest:
    """A request running ``<module>.<function>(arg)`` (a module beside this file), its
    task input written under ``root``; ``returns``: the function returns a str."""
    work = root / "work"
    work.mkdir(exist_ok=True)
    input_path = work / f"{task_id}.input.json"
    str_type = {"kind": "parameter", "type": {"kind": "str"}}
    write_json(
        str(input_path),
        {
            "schemaVersion": TASK_SCHEMA,
            "inputs": {"parameterValues": {"arg": arg}, "artifacts": {}},
            "outputs": {
                "parameters": {},
                "artifacts": {},
                "outputFile": str(work / f"{task_id}.output.json"),
            },
            "headwater": {
                "runId": "executor-tests",
                "taskRunId": task_id,
                "taskPath": function,
                "attempt": 1,
                "component": {
                    "name": function,
                    "root": str(HERE),
                    "module": module,
                    "file": f"{module}.py",
                    "function": function,
                    "codeDigest": "",
                    "interface": {
                        "returns": "single" if returns else "none",
                        "returnOutputs": ["output"] if returns else [],
                        "inputs": {"arg": str_type},
                        "outputs": {"output": str_type} if returns else {},
                    },
                },
            },
        },
    )
    options.setdefault("cwd", str(root))
    return TaskRequest(
        id=task_id, input_path=str(input_path), log_path=str(root / f"{task_id}.log"), **options
    )


@dataclass
class Harness:
    """An executor under test, and what the tests need around it."""

    executor: Executor
    flavour: Flavour
    root: Path
    seen: list[ExecEvent] = field(default_factory=list)
    _count: int = 0

    def request(
        self, function: str, arg: str = "", *, name: str | None = None, **options: Any
    ) -> TaskRequest:
        """A request running ``conformance_tasks.<function>(arg)``, its input written."""
        self._count += 1
        task_id = name or f"{function}-{self._count}"
        options.setdefault("fresh_interpreter", self.flavour.fresh_interpreter)
        return task_request(self.root, task_id, TASKS_MODULE, function, arg, False, **options)

    def output(self, request: TaskRequest) -> dict[str, Any]:
        path = Path(request.input_path.replace(".input.json", ".output.json"))
        return json.loads(path.read_text()) if path.exists() else {}

    def log(self, request: TaskRequest) -> str:
        return Path(request.log_path).read_text(errors="replace")

    def until_ended(self, ids: list[str], within: float = 30.0) -> dict[str, list[ExecEvent]]:
        """Collect events until every task in ``ids`` has ended; its events by task."""
        by_task: dict[str, list[ExecEvent]] = {i: [] for i in ids}
        deadline = time.monotonic() + within
        while any(not _ended(evs) for evs in by_task.values()):
            left = deadline - time.monotonic()
            assert left > 0, f"no end reported within {within}s: {by_task}"
            for ev in self.executor.events(min(left, 1.0)):
                self.seen.append(ev)
                if ev.id in by_task:
                    by_task[ev.id].append(ev)
        return by_task

    def until_started(self, task_id: str, within: float = 30.0) -> ExecEvent:
        deadline = time.monotonic() + within
        while True:
            for ev in self.seen:
                if ev.id == task_id and ev.kind == "started":
                    return ev
            left = deadline - time.monotonic()
            assert left > 0, f"{task_id} did not start within {within}s"
            self.seen.extend(self.executor.events(min(left, 1.0)))

    def last(self, task_id: str) -> ExecEvent:
        (end,) = [e for e in self.seen if e.id == task_id and e.kind in ("exited", "lost")]
        return end


def _ended(events: list[ExecEvent]) -> bool:
    return any(e.kind in ("exited", "lost") for e in events)


@pytest.fixture(scope="module", params=sorted(EXECUTORS))
def flavour_name(request: pytest.FixtureRequest) -> str:
    """Module-scoped, so that pytest runs every test on one executor before the next: the
    local executor's tests run before the Ray cluster is started, not beside it."""
    return str(request.param)


@pytest.fixture
def harness(request: pytest.FixtureRequest, flavour_name: str, tmp_path: Path) -> Iterator[Harness]:
    flavour = EXECUTORS[flavour_name]
    address = request.getfixturevalue("ray_cluster").address if flavour.needs_ray else None
    executor = flavour.make(address)
    executor.warm()
    h = Harness(executor, flavour, tmp_path)
    try:
        yield h
    finally:
        executor.close()
        for pid_file in tmp_path.glob("*.pid"):  # never leave a sleeper behind
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


def alive(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited (a zombie has)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return False


def wait_gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def read_pid(path: Path, within: float = 30.0) -> int:
    deadline = time.monotonic() + within
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} was never written"
        time.sleep(0.02)
    return int(path.read_text())


NOTHING = Resources()


def environment_of(*packages: str) -> Environment:
    """The per-step environment of ``packages``, resolved on the package index."""
    from headwater.envs import resolve

    lock = resolve(list(packages))
    return Environment(lock.digest, lock.pinned, lock.python, lock.requested)


# ---------------------------------------------------------------------- Ray


@pytest.fixture
def on_ray(ray_cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """This test's runs use the Ray executor on the test cluster, in a home of their own."""
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "hw-home"))
    monkeypatch.setenv("HEADWATER_EXECUTOR", "ray")
    monkeypatch.setenv("HEADWATER_RAY_ADDRESS", ray_cluster.address)
    for name in ("HEADWATER_DATABASE_URL", "HEADWATER_ARTIFACT_ROOT", "RAY_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    return ray_cluster


class Attempts:
    """Task attempts sent straight to a Ray executor, and the events they get."""

    def __init__(self, executor: Executor, root: Path) -> None:
        self.executor = executor
        self.root = root
        self.seen: list[ExecEvent] = []
        self._count = 0

    def request(self, function: str, arg: str = "", **options: Any) -> TaskRequest:
        """A request running ``ray_tasks.<function>(arg)``."""
        self._count += 1
        task_id = f"{function}-{self._count}"
        return task_request(self.root, task_id, "ray_tasks", function, arg, True, **options)

    def output(self, request: TaskRequest) -> Any:
        path = Path(request.input_path.replace(".input.json", ".output.json"))
        return json.loads(path.read_text())["parameterValues"]["output"]

    def until_ended(self, ids: list[str], within: float = 60.0) -> dict[str, list[ExecEvent]]:
        by_task: dict[str, list[ExecEvent]] = {i: [] for i in ids}
        deadline = time.monotonic() + within
        while any(not any(e.kind in ("exited", "lost") for e in evs) for evs in by_task.values()):
            left = deadline - time.monotonic()
            assert left > 0, f"no end reported within {within}s: {by_task}"
            for ev in self.executor.events(min(left, 1.0)):
                self.seen.append(ev)
                if ev.id in by_task:
                    by_task[ev.id].append(ev)
        return by_task


@pytest.fixture
def attempts(ray_cluster: Any, tmp_path: Path) -> Iterator[Attempts]:
    executor = make_executor("ray", address=ray_cluster.address)
    try:
        yield Attempts(executor, tmp_path)
    finally:
        executor.close()
