"""The examples run end to end with the real CLI: every task in its own process, the second
run all cache hits, the registered model's lineage leads back to the data, and the demo's
last step (examples/serve_model.py) registers, serves and curls the model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from headwater.engine import Run, Workspace
from headwater.states import RunStatus, TaskStatus

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("headwater"))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    monkeypatch.setenv("HEADWATER_HOME", str(folder))
    monkeypatch.delenv("HEADWATER_DATABASE_URL", raising=False)
    monkeypatch.delenv("HEADWATER_ARTIFACT_ROOT", raising=False)
    # The example registers models under $HEADWATER_HOME/registry when its tasks may see it.
    monkeypatch.setenv("HEADWATER_TASK_ENV_ALLOW", "HEADWATER_HOME")
    return folder


def headwater(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=300
    )


def latest_run(pipeline: str) -> Run:
    ws = Workspace.open()
    return Run(ws, ws.store.runs.list_runs(pipeline=pipeline, limit=1)[0].id)


def test_ml_pipeline_runs_then_is_all_cache_hits_with_lineage_to_the_data(home: Path) -> None:
    first = headwater("run", "examples/ml_pipeline.py", "-p", "n_samples=1500")
    assert first.returncode == 0, first.stdout + first.stderr
    run = latest_run("ml_pipeline")
    assert run.status is RunStatus.SUCCEEDED
    tasks = run.tasks
    assert tasks["register"].status is TaskStatus.SUCCEEDED, tasks
    assert tasks["report_rejection"].status is TaskStatus.SKIPPED
    assert 0.5 < run.metrics["evaluate"]["accuracy"] <= 1.0
    registered = Path(run.outputs("register")["output"])
    assert (registered / "model.joblib").is_file()
    assert registered.is_relative_to(home / "registry")

    second = headwater("run", "examples/ml_pipeline.py", "-p", "n_samples=1500")
    assert second.returncode == 0, second.stderr
    assert "no task process started" in second.stdout
    again = latest_run("ml_pipeline")
    assert again.id != run.id
    ran = {p: t for p, t in again.tasks.items() if t.status is not TaskStatus.SKIPPED}
    assert ran and all(t.status is TaskStatus.CACHED for t in ran.values())
    assert again.metrics["evaluate"]["accuracy"] == run.metrics["evaluate"]["accuracy"]

    model = run.outputs("register")["registered"].record
    lineage = headwater("lineage", model.id)
    assert lineage.returncode == 0, lineage.stderr
    upstream = lineage.stdout.split("upstream", 1)[1].split("downstream", 1)[0]
    for task in ("train", "compute_features", "make_dataset"):
        assert task in upstream, lineage.stdout
    assert run.id in upstream

    # make demo's serving step: register -> serve -> curl, the commands it prints.
    served = _serve_model()
    assert f"$ headwater models register {model.id} --name classifier --alias champion" in served
    assert "$ headwater serve classifier@champion --port 0 --grpc-port 0" in served
    assert "serving model 'classifier' version 1 (sklearn, 1 worker) as classifier@champion" in (
        served
    )
    assert "$ curl -s --fail-with-body http://127.0.0.1:" in served
    lines = served.splitlines()
    sent = next(i for i, line in enumerate(lines) if line.endswith("/v2/models/classifier/infer"))
    assert lines[sent].startswith("$ curl -s --fail-with-body -X POST")
    answer = json.loads(lines[sent + 1])
    assert answer["id"] == "demo-1" and answer["model_version"] == "1"
    [label] = next(o for o in answer["outputs"] if o["name"] == "predict")["data"]
    assert f"classifier@champion (version 1) predicts class {label} " in served
    # Again (a second make demo): the same model is not registered twice.
    again = _serve_model()
    assert f"model artifact {model.id} is already classifier version 1" in again
    assert "models register" not in again


def _serve_model() -> str:
    done = subprocess.run(
        [sys.executable, "examples/serve_model.py"],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_sweep_runs_every_config_and_picks_the_best(home: Path) -> None:
    done = headwater("run", "examples/sweep.py", "--max-parallel", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    run = latest_run("sweep")
    loop = [p for p in run.tasks if p.startswith("configs[")]
    assert len(loop) >= 2
    assert all(run.tasks[p].status is TaskStatus.SUCCEEDED for p in loop)
    assert run.tasks["summarize"].status is TaskStatus.SUCCEEDED
    best = run.outputs("pick_best")
    assert best, best
