"""SIGKILL of each Headwater process in turn, early, in the middle of the fan-out and
during the fan-in of one 50-task run, on SQLite and on PostgreSQL.

Each run meets three faults of one kind and must end succeeded: after ``headwater
resume`` (the engine), by itself (the worker, a task: the engine lives on; both kinds of
task have one retry), or by adoption (``headwater standalone``, ``headwater scheduler``:
another one, started after the kill, takes the run over once its heartbeat is stale).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from fault_bench import POINTS, RUN_TIMEOUT, FaultBench


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def test_the_engine_killed_at_each_point_is_resumed(bench: FaultBench) -> None:
    driver, run_id = bench.run_cli()
    for point in POINTS:
        bench.wait_started(run_id, point)
        bench.kill(driver)
        bench.fault(run_id, "engine")
        bench.release(point)
        driver = bench.resume(run_id)
    assert driver.popen.wait(timeout=RUN_TIMEOUT) == 0, bench.explain()
    bench.check(run_id)


@pytest.mark.parametrize("under", ["run", "standalone"])
def test_the_task_worker_killed_at_each_point_is_replaced(bench: FaultBench, under: str) -> None:
    if under == "run":
        driver, run_id = bench.run_cli()
    else:  # its engine keeps the run's heartbeat: nobody else would ever take it over
        bench.deploy()
        driver = bench.standalone()
        run_id = bench.trigger()
    workers = []
    for point in POINTS:
        task = bench.wait_started(run_id, point)
        workers.append(parent_of(task))
        os.kill(workers[-1], signal.SIGKILL)
        bench.fault(run_id, f"worker (under {under})")
        bench.release(point)
    if under == "run":
        assert driver.popen.wait(timeout=RUN_TIMEOUT) == 0, bench.explain()
    bench.check(run_id)
    assert len(set(workers)) == len(POINTS), "a task ran in a worker that had been killed"


def test_a_task_killed_at_each_point_is_retried(bench: FaultBench) -> None:
    driver, run_id = bench.run_cli()
    for point in POINTS:
        os.kill(bench.wait_started(run_id, point), signal.SIGKILL)
        bench.fault(run_id, "task")
        bench.release(point)
    assert driver.popen.wait(timeout=RUN_TIMEOUT) == 0, bench.explain()
    bench.check(run_id)


def test_standalone_killed_at_each_point_has_its_run_adopted(bench: FaultBench) -> None:
    bench.deploy()
    driver = bench.standalone()
    run_id = bench.trigger()
    for point in POINTS:
        bench.wait_started(run_id, point)
        bench.kill(driver)
        bench.fault(run_id, "standalone")
        bench.release(point)
        driver = bench.standalone()
    bench.check(run_id)


def test_a_scheduler_killed_at_each_point_has_its_run_adopted(bench: FaultBench) -> None:
    bench.deploy()
    driver = bench.scheduler()
    run_id = bench.trigger()
    for point in POINTS:
        bench.wait_started(run_id, point)
        bench.kill(driver)
        bench.fault(run_id, "scheduler")
        bench.release(point)
        driver = bench.scheduler()
    bench.check(run_id)
