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
