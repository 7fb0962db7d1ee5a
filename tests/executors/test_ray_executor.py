"""Task attempts on a real two-node Ray cluster: where they run, the GPUs they get, what
is refused, and how the executor is chosen and connected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import Attempts

from headwater.errors import ConfigurationError
from headwater.executors import Resources, make_executor

WORKER = "127.0.0.3"
HEAD = "127.0.0.2"


def test_a_task_asking_for_a_custom_resource_runs_on_the_node_that_has_it(
    attempts: Attempts,
) -> None:
    reqs = [
        attempts.request("gpus", resources=Resources(custom={"special": 0.5})) for _ in range(3)
    ]
    reqs += [
        attempts.request("gpus", resources=Resources(custom={"head_only": 0.5})) for _ in range(3)
    ]
    for req in reqs:
        attempts.executor.submit(req)

    ended = attempts.until_ended([r.id for r in reqs])

    nodes = {task_id: evs[0].node for task_id, evs in ended.items()}
    for req in reqs[:3]:
        assert ended[req.id][-1].status == 0
        assert (nodes[req.id] or "").startswith(f"{WORKER} "), nodes
    for req in reqs[3:]:
        assert (nodes[req.id] or "").startswith(f"{HEAD} "), nodes


def test_a_task_asking_for_a_kind_of_accelerator_runs_on_the_node_that_has_it(
    attempts: Attempts,
) -> None:
    reqs = [attempts.request("gpus", resources=Resources(accelerator="T4")) for _ in range(3)]
    for req in reqs:
        attempts.executor.submit(req)

    ended = attempts.until_ended([r.id for r in reqs])

    for req in reqs:
        assert ended[req.id][-1].status == 0
        assert (ended[req.id][0].node or "").startswith(f"{WORKER} "), ended[req.id]


def test_tasks_asking_for_a_gpu_at_the_same_time_get_different_devices(
    attempts: Attempts,
) -> None:
    reqs = [attempts.request("gpus", "1.5", resources=Resources(gpu=1)) for _ in range(2)]
    for req in reqs:
        assert attempts.executor.has_room(req.resources)
        attempts.executor.submit(req)
    # Both GPUs of the cluster are taken now.
    assert not attempts.executor.has_room(Resources(gpu=1))

    ended = attempts.until_ended([r.id for r in reqs])

    devices = [attempts.output(r) for r in reqs]
    assert sorted(devices) == ["0", "1"], devices
    assert all(evs[-1].status == 0 for evs in ended.values())
    assert attempts.executor.has_room(Resources(gpu=2))


def test_a_task_without_a_gpu_sees_none(attempts: Attempts) -> None:
    req = attempts.request("gpus", resources=Resources(custom={"special": 0.5}))
    attempts.executor.submit(req)
    attempts.until_ended([req.id])

    assert attempts.output(req) == ""


def test_requests_no_node_can_meet_are_refused_with_the_reason(attempts: Attempts) -> None:
    ex = attempts.executor

    assert ex.check(Resources(cpu=2, gpu=2, custom={"special": 1})) is None
    assert "no node of the Ray cluster has more than 2" in (ex.check(Resources(cpu=3)) or "")
    assert "GPU" in (ex.check(Resources(gpu=3)) or "")
    assert "'elsewhere'" in (ex.check(Resources(custom={"elsewhere": 1})) or "")
    assert "accelerator 'H100'" in (ex.check(Resources(accelerator="H100")) or "")
    # Each part exists, but not together on one node.
    assert "no single node" in (ex.check(Resources(custom={"special": 1, "head_only": 1})) or "")


def test_the_local_executor_refuses_what_only_a_cluster_offers() -> None:
    local = make_executor("local")
    assert "Ray executor" in (local.check(Resources(custom={"special": 1})) or "")
    assert "accelerator" in (local.check(Resources(accelerator="H100")) or "")


def test_an_unknown_executor_or_an_unreachable_cluster_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigurationError, match="unknown executor 'kubernetes'"):
        make_executor("kubernetes")
    monkeypatch.setenv("HEADWATER_EXECUTOR", "nomad")
    with pytest.raises(ConfigurationError, match="HEADWATER_EXECUTOR='nomad'"):
        make_executor()
    with pytest.raises(ConfigurationError, match="Ray Client"):
        make_executor("ray", address="ray://127.0.0.2:10001")


def test_headwater_and_its_task_runtime_do_not_import_ray() -> None:
    code = (
        "import sys, headwater, headwater.runtime, headwater.executors, headwater.engine, "
        "headwater.cli, headwater.scheduler, headwater.server; "
        "print('ray' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_each_host_of_the_cluster_is_asked_whether_it_sees_the_shared_folders(
    ray_cluster: Any, tmp_path: Path
) -> None:
    # A cluster of several hosts is refused when one of them cannot see HEADWATER_HOME or
    # a local artifact root; every node here is on this machine, so the refusal itself
    # cannot happen, but the question each host is asked can be put.
    import socket

    from headwater.executors._ray import hosts_blind_to, live_nodes

    nodes = live_nodes()
    assert hosts_blind_to(str(tmp_path), nodes) == []
    assert hosts_blind_to(str(tmp_path / "not-there"), nodes) == [socket.gethostname()]
