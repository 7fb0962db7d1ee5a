"""Whole runs on a real two-node Ray cluster: where their attempts ran, GPUs, a request
no node can meet, a node that dies mid-run, and a wide fan-out."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import engine_misc
import pytest
import ray_pipelines

import headwater
from headwater.engine import Run, Workspace
from headwater.states import RunStatus, TaskStatus


def _attempts(run: Run) -> list[Any]:
    return run.attempts


def test_a_parallel_for_over_200_items_spreads_over_both_nodes(on_ray: Any) -> None:
    run = headwater.run(ray_pipelines.fanout)

    assert run.status is RunStatus.SUCCEEDED
    assert run.outputs("total")["output"] == 200 + sum(range(200))
    nodes = {a.node for a in _attempts(run) if a.path.startswith("loop")}
    assert {n.split()[0] for n in nodes} == {"127.0.0.2", "127.0.0.3"}, nodes


def test_gpu_tasks_of_a_run_get_their_own_devices_and_a_third_waits(
    on_ray: Any, tmp_path: Path
) -> None:
    stamps = tmp_path / "stamps"
    stamps.mkdir()
    run = headwater.run(engine_misc.engine_gpus, stamp_dir=str(stamps))

    assert run.status is RunStatus.SUCCEEDED
    seen = []
    for label in ("g1", "g2", "g3"):
        start, end, device = (stamps / f"{label}.stamp").read_text().split()
        seen.append((float(start), float(end), device))
    for i, (s1, e1, d1) in enumerate(seen):
        for s2, e2, d2 in seen[i + 1 :]:
            if s1 < e2 and s2 < e1:  # they held their GPUs at the same time
                assert d1 != d2, seen
    assert all(a.node and a.node.startswith("127.0.0.3 ") for a in _attempts(run))


def test_a_task_needing_more_than_any_node_has_fails_at_once_with_the_reason(
    on_ray: Any,
) -> None:
    began = time.monotonic()
    run = headwater.run(ray_pipelines.too_big)

    assert run.status is RunStatus.FAILED
    task = run.task("enormous")
    assert task.error is not None
    assert "asks for 64 CPUs but no node of the Ray cluster has more than 2" in task.error
    assert task.pid is None
    assert time.monotonic() - began < 30


def test_tasks_on_a_node_that_dies_are_retried_elsewhere_and_the_run_finishes(
    on_ray: Any,
) -> None:
    # A third node joins for this test only, and its raylet is killed mid-run.
    victim = "127.0.0.4"
    on_ray.add_node(victim, "--num-cpus", "2")
    result: dict[str, Run] = {}
    thread = threading.Thread(
        target=lambda: result.setdefault(
            "run", headwater.run(ray_pipelines.slow_fanout, seconds=4.0)
        ),
        daemon=True,
    )
    thread.start()
    ws = Workspace.open()
    try:
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, "no task ever ran on the third node"
            runs = ws.store.runs.list_runs(limit=1)
            running = [
                t
                for t in (ws.store.tasks.task_runs(runs[0].id) if runs else [])
                if t.node and t.node.startswith(f"{victim} ") and t.status == "running"
            ]
            if running:
                break
            time.sleep(0.1)
    finally:
        ws.close()
    os.kill(on_ray.raylet_of(victim), signal.SIGKILL)
    thread.join(120)

    run = result["run"]
    assert run.status is RunStatus.SUCCEEDED
    assert run.outputs("total")["output"] == sum(range(8))
    lost = [a for a in _attempts(run) if a.node and a.node.startswith(f"{victim} ")]
    failed = [a for a in lost if a.status is TaskStatus.UP_FOR_RETRY]
    assert failed, [(a.path, a.status) for a in lost]
    for attempt in failed:
        assert f"the Ray node running it died on node {victim}" in (attempt.error or ""), (
            attempt.error
        )
        later = [
            a for a in _attempts(run) if a.path == attempt.path and a.attempt > attempt.attempt
        ]
        assert later and later[-1].status is TaskStatus.SUCCEEDED
        assert later[-1].node and not later[-1].node.startswith(f"{victim} ")


def test_tasks_asking_for_a_custom_resource_run_on_the_node_that_offers_it(
    on_ray: Any,
) -> None:
    run = headwater.run(ray_pipelines.custom_resources)

    assert run.status is RunStatus.SUCCEEDED
    nodes = {a.path: a.node for a in _attempts(run)}
    assert nodes["needs_special"] is not None and nodes["needs_special"].startswith("127.0.0.3 ")
    assert nodes["needs_head"] is not None and nodes["needs_head"].startswith("127.0.0.2 ")


def test_the_local_executor_refuses_a_custom_resource_before_any_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from headwater.errors import OptionNotHonoured

    # A home of its own: the store is opened before the run is refused.
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "hw-home"))
    monkeypatch.delenv("HEADWATER_EXECUTOR", raising=False)
    with pytest.raises(OptionNotHonoured) as caught:
        headwater.run(ray_pipelines.custom_resources)

    assert "resources={'special': 1.0}" in caught.value.message
    assert "the local executor" in caught.value.message
    ws = Workspace.open()
    try:
        assert ws.store.runs.list_runs() == []
    finally:
        ws.close()
