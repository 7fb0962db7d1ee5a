"""A ``headwater tune`` killed with SIGKILL resumes with ``--resume`` and repeats no
finished trial."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import tuning_flow
from tuner_process import command, tuner_env, wait_for_trials

from headwater.engine import Workspace
from headwater.tuning import StudyStatus, TrialState, study_result


def test_a_killed_study_resumes_without_repeating_finished_trials(
    home: Path, tmp_path: Path
) -> None:
    (tmp_path / "tuning_flow.py").write_text(Path(tuning_flow.__file__).read_text())
    (tmp_path / "space.yaml").write_text("x: {type: float, low: 0.0, high: 1.0}\n")
    marks = tmp_path / "marks"
    args = ["tune", "tuning_flow.py:sleepy", "--space", "space.yaml", "--objective"]
    args += ["slow.score", "--trials", "6", "--sampler", "random", "--seed", "3"]
    args += ["--study", "killed", "-p", f"marks={marks}", "-p", "pause=0.8"]
    with (tmp_path / "tune.log").open("wb") as log:
        tuner = subprocess.Popen(
            command(*args),
            cwd=tmp_path,
            env=tuner_env(),
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    ws = Workspace.open()
    try:
        wait_for_trials(ws, "killed", complete=2)
    finally:
        os.killpg(tuner.pid, signal.SIGKILL)
        tuner.wait(timeout=30)
    study = ws.store.studies.get_study("killed")
    assert study.status == StudyStatus.RUNNING  # as the killed tuner left it
    before = {t.number: t for t in ws.store.studies.trials(study.id)}
    finished = [t for t in before.values() if t.state == TrialState.COMPLETE]
    assert len(finished) >= 2

    done = subprocess.run(
        command("tune", "--resume", "killed"),
        cwd=tmp_path,
        env=tuner_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "study killed completed" in done.stdout

    result = study_result(ws.store, "killed")
    assert result.status is StudyStatus.COMPLETED
    kept = [t for t in result.trials if t.state != TrialState.LOST]
    assert len(kept) == 6 and all(t.state == TrialState.COMPLETE for t in kept)
    assert len({t.run_id for t in kept}) == 6
    # The trials that had finished kept their runs and values, and ran only once.
    started = (marks / "started.log").read_text().splitlines()
    for old in finished:
        now = next(t for t in result.trials if t.number == old.number)
        assert (now.run_id, now.value, now.params) == (old.run_id, old.value, old.params)
        assert started.count(repr(old.params["x"])) == 1
    # Every trial's run evaluated the trial's own parameters.
    for trial in kept:
        run = ws.store.runs.get_run(trial.run_id or "")
        assert run.parameters["x"] == trial.params["x"] == trial.value
    # 'headwater studies show' lists them all, the best marked.
    shown = subprocess.run(
        command("studies", "show", "killed"),
        cwd=tmp_path,
        env=tuner_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert f"best: trial {result.best_trial.number if result.best_trial else ''}," in shown.stdout
    for trial in kept:
        assert str(trial.run_id) in shown.stdout
    ws.close()


def test_an_interrupted_study_asks_its_trials_in_flight_again(home: Path, tmp_path: Path) -> None:
    (tmp_path / "tuning_flow.py").write_text(Path(tuning_flow.__file__).read_text())
    (tmp_path / "space.yaml").write_text("x: {type: float, low: 0.0, high: 1.0}\n")
    args = ["tune", "tuning_flow.py:sleepy", "--space", "space.yaml", "--objective"]
    args += ["slow.score", "--trials", "3", "--study", "stopped", "-p", f"marks={tmp_path}"]
    args += ["-p", "pause=5"]
    with (tmp_path / "tune.log").open("wb") as log:
        tuner = subprocess.Popen(
            command(*args),
            cwd=tmp_path,
            env=tuner_env(),
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    ws = Workspace.open()
    try:
        wait_for_trials(ws, "stopped", complete=0)
        os.killpg(tuner.pid, signal.SIGINT)  # Ctrl-C
        assert tuner.wait(timeout=60) == 1  # no trial completed
    finally:
        if tuner.poll() is None:
            os.killpg(tuner.pid, signal.SIGKILL)
    interrupted = study_result(ws.store, "stopped")
    assert interrupted.status is StudyStatus.INTERRUPTED
    [first] = interrupted.trials
    assert ws.store.runs.get_run(first.run_id or "").status.value == "cancelled"

    done = subprocess.run(
        command("tune", "--resume", "stopped"),
        cwd=tmp_path,
        env=tuner_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = study_result(ws.store, "stopped")
    assert result.status is StudyStatus.COMPLETED
    states = [t.state for t in result.trials]
    assert states == [TrialState.LOST] + [TrialState.COMPLETE] * 3
    # The trial stopped in flight was asked again, with the same parameters.
    assert result.trials[1].params == first.params
    ws.close()
