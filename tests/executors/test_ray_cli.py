"""The command line on the Ray executor: choosing it, the node each attempt ran on in
'runs show', and clear refusals (with nothing created) for an unknown executor or a
cluster that cannot be reached."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PIPELINE = Path(__file__).resolve().parent / "ray_pipelines.py"
CLI = [sys.executable, "-c", "from headwater.cli import run; run()"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.2", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


def headwater(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HEADWATER_", "RAY_")) and k not in ("FORCE_COLOR",)
    }
    base.update(HEADWATER_HOME=str(home), NO_COLOR="1", COLUMNS="160", **env)
    return subprocess.run(
        [*CLI, *args], env=base, capture_output=True, text=True, timeout=120, cwd=home.parent
    )


def test_run_on_ray_records_and_shows_the_node_of_each_attempt(
    ray_cluster: Any, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    done = headwater(
        home,
        "run",
        f"{PIPELINE}:small",
        "--executor",
        "ray",
        "--ray-address",
        ray_cluster.address,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = done.stdout.split()[1]

    shown = headwater(home, "runs", "show", run_id)

    assert shown.returncode == 0, shown.stderr
    assert "node" in shown.stdout
    assert "127.0.0." in shown.stdout


def test_a_local_run_shows_this_machine_as_the_node(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = headwater(home, "run", f"{PIPELINE}:small", "--executor", "local")
    assert done.returncode == 0, done.stdout + done.stderr

    shown = headwater(home, "runs", "show", done.stdout.split()[1])

    assert socket.gethostname() in shown.stdout


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--executor", "nomad"], {}, "unknown executor 'nomad'"),
        ([], {"HEADWATER_EXECUTOR": "nomad"}, "HEADWATER_EXECUTOR='nomad'"),
        (["--ray-address", "127.0.0.2:1"], {}, "--ray-address is for the Ray executor"),
        (["--executor", "ray", "--ray-address", "CLOSED"], {}, "cannot reach the Ray cluster"),
        ([], {"HEADWATER_EXECUTOR": "ray", "RAY_ADDRESS": "CLOSED"}, "cannot reach the Ray"),
    ],
)
def test_run_refuses_an_unknown_executor_or_an_unreachable_cluster_and_creates_nothing(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    closed = f"127.0.0.2:{_closed_port()}"
    args = [closed if a == "CLOSED" else a for a in args]
    env = {k: closed if v == "CLOSED" else v for k, v in env.items()}
    home = tmp_path / "home"

    done = headwater(home, "run", f"{PIPELINE}:small", *args, **env)

    assert done.returncode == 1, done.stdout + done.stderr
    assert message in done.stderr.replace("\n", " "), done.stderr
    assert not home.exists()


@pytest.mark.parametrize("command", [["scheduler", "--once"], ["standalone"], ["server"]])
def test_services_refuse_a_bad_executor_setting_before_creating_anything(
    tmp_path: Path, command: list[str]
) -> None:
    home = tmp_path / "home"
    closed = f"127.0.0.2:{_closed_port()}"

    unknown = headwater(home, *command, HEADWATER_EXECUTOR="nomad")
    unreachable = headwater(home, *command, HEADWATER_EXECUTOR="ray", HEADWATER_RAY_ADDRESS=closed)

    assert unknown.returncode == 1 and "HEADWATER_EXECUTOR='nomad'" in unknown.stderr
    assert unreachable.returncode == 1 and "cannot reach the Ray cluster" in unreachable.stderr
    assert not home.exists()


IMAGED = """
from headwater import component, pipeline


@component(image="python:3.12-slim")
def containerised() -> str:
    return "ran"


@pipeline
def ray_imaged():
    containerised()
"""


def test_run_on_ray_refuses_an_image_and_creates_no_run(ray_cluster: Any, tmp_path: Path) -> None:
    source = tmp_path / "ray_imaged.py"
    source.write_text(IMAGED)
    home = tmp_path / "home"
    where = ("--executor", "ray", "--ray-address", ray_cluster.address)

    done = headwater(home, "run", str(source), *where)

    assert done.returncode == 1, done.stdout + done.stderr
    for part in (
        "pipeline 'ray_imaged', task 'containerised'",
        "task 'containerised' sets image='python:3.12-slim', but the ray executor runs steps "
        "on its nodes' Python",
        "fix: use packages= for its dependencies (made on each node) or compile the pipeline "
        "for Kubeflow, or pass --ignore-image",
    ):
        assert part in done.stderr, done.stderr
    listed = headwater(home, "runs", "list")
    assert listed.returncode == 0 and "ray_imaged" not in listed.stdout

    anyway = headwater(home, "run", str(source), *where, "--ignore-image")
    assert anyway.returncode == 0, anyway.stdout + anyway.stderr
    assert "image= is ignored as asked" in anyway.stdout
    assert "the ray executor runs steps on its nodes' Python" in anyway.stdout


def _trial_nodes(home: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str | None], int]:
    """The node each trial run's attempts ran on, and how many studies there are (the
    store of ``home``)."""
    from headwater.engine import Workspace

    monkeypatch.setenv("HEADWATER_HOME", str(home))
    ws = Workspace.open()
    try:
        runs = [r for r in ws.store.runs.list_runs(limit=100) if r.trigger == "tune"]
        nodes = [t.node for r in runs for t in ws.store.tasks.task_runs(r.id)]
        return nodes, len(ws.store.studies.list_studies())
    finally:
        ws.close()


def test_a_study_runs_its_trials_on_ray(
    ray_cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    space = tmp_path / "space.yaml"
    space.write_text("x: {type: float, low: 0.0, high: 1.0}\n")
    where = ("--executor", "ray", "--ray-address", ray_cluster.address)
    args = ["--space", str(space), "--objective", "score.value", "--trials", "4"]

    done = headwater(home, "tune", f"{PIPELINE}:scored", *args, "--parallel", "2", *where)

    assert done.returncode == 0, done.stdout + done.stderr
    nodes, studies = _trial_nodes(home, monkeypatch)
    assert studies == 1
    assert len(nodes) == 4 and all(n and n.startswith("127.0.0.") for n in nodes), nodes
    # A Ray address without the Ray executor is refused, and no study or run is created.
    other = tmp_path / "other"
    refused = headwater(other, "tune", f"{PIPELINE}:scored", *args, "--ray-address", "x:1")
    assert refused.returncode == 1
    assert "a Ray address is for the Ray executor" in refused.stderr
    assert _trial_nodes(other, monkeypatch) == ([], 0)


def test_a_tune_step_of_a_run_on_ray_runs_its_trials_there(
    ray_cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    where = ("--executor", "ray", "--ray-address", ray_cluster.address)

    done = headwater(home, "run", f"{PIPELINE}:tuned_on_ray", *where)

    assert done.returncode == 0, done.stdout + done.stderr
    nodes, studies = _trial_nodes(home, monkeypatch)
    assert studies == 1
    assert len(nodes) == 4 and all(n and n.startswith("127.0.0.") for n in nodes), nodes
