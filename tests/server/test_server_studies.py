"""Tuning studies over HTTP: a study run with ``headwater tune`` against the server's
store, then listed and read back with its trials, history and parameter importance."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from server_helpers import Standalone

API = "/api/v1"
FLOW = Path(__file__).resolve().parents[1] / "tuning" / "tuning_flow.py"


@pytest.fixture(scope="module")
def study(server: Standalone, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("study")
    space = folder / "space.yaml"
    space.write_text("x: {type: float, low: 0, high: 1}\ny: {type: float, low: 0, high: 1}\n")
    name = f"api-study-{secrets.token_hex(3)}"
    done = server.cli(
        "tune", f"{FLOW}:quadratic", "--space", space, "--objective", "train.score",
        "--direction", "maximize", "--trials", "6", "--parallel", "2", "--study", name,
        "--seed", "3", "-p", f"log_dir={folder}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return name


def test_studies_are_listed_with_their_trials_counted(server: Standalone, study: str) -> None:
    listed = server.http.get(f"{API}/studies")
    assert listed.status_code == 200, listed.text
    found = {s["name"]: s for s in listed.json()}[study]
    assert found["trials"] == {"complete": 6}
    assert found["objective"] == "train.score" and found["direction"] == "maximize"
    assert found["pipeline"] == "quadratic"


def test_a_study_with_its_trials_history_and_importance(server: Standalone, study: str) -> None:
    r = server.http.get(f"{API}/studies/{study}")
    assert r.status_code == 200, r.text
    body = r.json()
    trials = body["trial_list"]
    assert [t["number"] for t in trials] == list(range(6))
    assert all(t["state"] == "complete" and t["run_id"] for t in trials)
    values = {t["number"]: t["value"] for t in trials}
    assert body["best"] == max(values, key=lambda n: values[n])
    bests = [p["best"] for p in body["history"]]
    assert bests == [max(list(values.values())[: i + 1]) for i in range(6)]
    assert set(body["importance"]) == {"x", "y"}
    assert sum(body["importance"].values()) == pytest.approx(1.0)
    # Each trial is an ordinary run, in the experiment named after the study.
    run = server.run(trials[0]["run_id"])
    assert run["experiment"] == study and run["pipeline"] == "quadratic"


def test_an_unknown_study_is_not_found(server: Standalone) -> None:
    r = server.http.get(f"{API}/studies/no-such-study")
    assert r.status_code == 404, r.text
    assert server.http.get(f"{API}/health").status_code == 200


TUNE_FLOW = Path(__file__).resolve().parents[1] / "tuning" / "tune_step_flow.py"


def test_a_deployed_pipeline_with_a_tune_step_runs_its_study_on_the_scheduler(
    server: Standalone, tmp_path: Path
) -> None:
    """Triggered over the API, the scheduler drives the study: trial runs are confined
    (the run was created through the server) and the best trial reaches the next task."""
    server.deploy(TUNE_FLOW, "nightly")
    marks = tmp_path / "marks"
    run = server.trigger("nightly", marks=str(marks), width=3.0)
    ended = server.wait(run["id"], timeout=180)
    assert ended["status"] == "succeeded", ended
    tasks = {t["path"]: t for t in ended["tasks"]}
    tune = tasks["tune-training"]
    study = tune["inputs"]["headwater.study"]
    assert tune["outputs"]["parameters"]["study"] == study
    found = server.http.get(f"{API}/studies/{study}").json()
    assert found["status"] == "completed" and len(found["trial_list"]) == 6
    best = found["trial_list"][found["best"]]
    assert tune["outputs"]["parameters"]["best_params"] == best["params"]
    trial = server.run(best["run_id"])
    assert (trial["pipeline"], trial["trigger"], trial["experiment"]) == (
        "training",
        "tune",
        study,
    )
    assert trial["parameters"]["width"] == 3.0
    assert trial["confined"] is True
    assert tasks["deploy"]["status"] == "succeeded"
