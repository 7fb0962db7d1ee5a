"""The Ray executor's own tests: runs and task attempts on the two-node Ray cluster of
``tests/conftest.py`` (a head at 127.0.0.2, a worker at 127.0.0.3 with 2 fake GPUs and the
resource ``special``)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater.executors import ExecEvent, Executor, TaskRequest, make_executor
from headwater.runtime import TASK_SCHEMA, write_json

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent / "pipelines"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


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
        work = self.root / "work"
        work.mkdir(exist_ok=True)
        input_path = work / f"{task_id}.input.json"
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
                    "runId": "ray-tests",
                    "taskRunId": task_id,
                    "taskPath": function,
                    "attempt": 1,
                    "component": {
                        "name": function,
                        "root": str(HERE),
                        "module": "ray_tasks",
                        "file": "ray_tasks.py",
                        "function": function,
                        "codeDigest": "",
                        "interface": {
                            "returns": "single",
                            "returnOutputs": ["output"],
                            "inputs": {"arg": {"kind": "parameter", "type": {"kind": "str"}}},
                            "outputs": {"output": {"kind": "parameter", "type": {"kind": "str"}}},
                        },
                    },
                },
            },
        )
        options.setdefault("cwd", str(self.root))
        return TaskRequest(
            id=task_id,
            input_path=str(input_path),
            log_path=str(self.root / f"{task_id}.log"),
            **options,
        )

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
