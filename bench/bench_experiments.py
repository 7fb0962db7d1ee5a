"""Comparing runs: ``headwater runs compare`` over 10,000 runs of one experiment.

The store is seeded with one real run of pipelines/compare_flow.py, then 9,999 copies of
it (runs, their task attempt, and six metric points each: a five-step loss and a final
accuracy) in bulk inserts, with other parameters and metric values. The command is timed
as a user runs it (a fresh process: start, open the store, compare, filter, sort and
print), on SQLite and, when a server answers, on PostgreSQL; the comparison inside one
process is shown beside it.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from _table import Row, median_runs
from bench_scheduler import POSTGRES_URL, Postgres, _analyze, _env, _workspace

HERE = Path(__file__).resolve().parent
FLOW = HERE / "pipelines" / "compare_flow.py"
CLI = str(Path(sys.executable).with_name("headwater"))
RUNS = 10_000
TARGET = 0.5
COMMAND = [
    "runs", "compare", "--experiment", "compare_bench",
    "-w", "accuracy>0.9", "--sort", "accuracy", "--desc",
]  # fmt: skip


def _seed(env: dict[str, str]) -> None:
    """A real run, then ``RUNS - 1`` copies of it with other values."""
    from headwater.store import _schema, new_id

    done = subprocess.run(
        [CLI, "run", str(FLOW)], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the seed run failed: {done.stderr}")
    ws = _workspace(env)
    try:
        [first] = ws.store.runs.list_runs(limit=1)
        [task] = ws.store.tasks.task_runs(first.id)
        rng = random.Random(7)
        runs: list[dict[str, Any]] = []
        tasks: list[dict[str, Any]] = []
        points: list[dict[str, Any]] = []
        for i in range(RUNS - 1):
            created = first.created_at - timedelta(seconds=RUNS - i)
            rid, tid = new_id(), new_id()
            lr, depth = rng.choice([0.01, 0.03, 0.1, 0.3]), rng.randint(1, 8)
            accuracy = 1.0 - abs(lr - 0.1) - depth * 0.01 + rng.uniform(-0.02, 0.02)
            runs.append(
                {
                    "id": rid,
                    "namespace": ws.store.namespace,
                    "pipeline_id": first.pipeline_id,
                    "version_id": first.version_id,
                    "status": "succeeded",
                    "parameters": {
                        "lr": lr,
                        "depth": depth,
                        "optimizer": rng.choice(["adam", "sgd"]),
                    },
                    "trigger": "manual",
                    "cache_enabled": True,
                    "created_at": created,
                    "started_at": created,
                    "finished_at": created + timedelta(seconds=1),
                    "experiment": "compare_bench",
                    "confined": False,
                }
            )
            tasks.append(
                {
                    "id": tid,
                    "namespace": ws.store.namespace,
                    "run_id": rid,
                    "path": task.path,
                    "task": task.task,
                    "component": task.component,
                    "attempt": 1,
                    "status": "succeeded",
                    "created_at": created,
                }
            )
            values = [("loss", 1.0 - accuracy + (4 - s) * 0.1, s) for s in range(5)]
            values.append(("accuracy", accuracy, None))
            for key, value, step in values:
                points.append(
                    {
                        "namespace": ws.store.namespace,
                        "run_id": rid,
                        "task_run_id": tid,
                        "key": key,
                        "value": value,
                        "step": step,
                        "logged_at": created,
                    }
                )
        with ws.store.engine.begin() as conn:
            conn.execute(_schema.runs.insert(), runs)
            conn.execute(_schema.task_runs.insert(), tasks)
            conn.execute(_schema.metrics.insert(), points)
        _analyze(ws)
    finally:
        ws.close()


def _in_process(env: dict[str, str]) -> float:
    ws = _workspace(env)
    try:

        def once() -> float:
            start = time.perf_counter()
            found = ws.store.experiments.compare(
                experiment="compare_bench",
                where=["accuracy>0.9"],
                sort="accuracy",
                descending=True,
            )
            assert found.total == RUNS, found.total
            return time.perf_counter() - start

        return median_runs(once, 3)
    finally:
        ws.close()


def _command(env: dict[str, str]) -> float:
    def once() -> float:
        start = time.perf_counter()
        subprocess.run([CLI, *COMMAND], env=env, capture_output=True, check=True)
        return time.perf_counter() - start

    return median_runs(once, 3)


def _backend(name: str, database: Any) -> list[Row]:
    home = tempfile.mkdtemp(prefix="hw-bench-compare-")
    try:
        with database() as url:
            env = _env(home, url)
            _seed(env)
            inside, command = _in_process(env), _command(env)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return [
        Row(
            f"headwater runs compare, 10,000 runs of one experiment ({name})",
            f"{command:.2f} s",
            f"<= {TARGET} s",
            "yes" if command <= TARGET else "NO",
            f"a fresh process, median of 3; the comparison inside it {inside * 1000:.0f} ms",
        )
    ]


@contextlib.contextmanager
def _sqlite() -> Iterator[None]:
    yield None


def run() -> list[Row]:
    rows = _backend("SQLite", _sqlite)
    skip = Postgres.reachable()
    if skip is None:
        rows += _backend("PostgreSQL", Postgres(POSTGRES_URL).database)
    else:
        rows.append(
            Row("headwater runs compare (PostgreSQL)", "skipped", f"<= {TARGET} s", "-", skip)
        )
    return rows
