"""``headwater tensorboard --export``: real runs written as event files, read back with
TensorBoard's own event reader."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import tensorboard_flow as flow
from tb_helpers import Cli
from tb_read import event_runs, files, read_run, wall_times

import headwater
from headwater.engine import Workspace
from headwater.states import RunStatus, TaskStatus


def f32(value: float) -> float:
    """``value`` as TensorBoard stores a scalar: a float32."""
    return float(np.float32(value))


def expected_train(lr: float) -> dict[str, list[tuple[int, float]]]:
    losses = [(step, f32(flow.loss_at(step, lr))) for step in range(flow.STEPS)]
    last = flow.loss_at(flow.STEPS - 1, lr)
    return {"loss": losses, "accuracy": [(0, f32(1.0 - last))]}


def test_a_runs_metrics_read_back_with_tensorboards_reader(cli: Cli, tmp_path: Path) -> None:
    run = headwater.run(flow.tb_train, lr=0.3)
    assert run.status is RunStatus.SUCCEEDED
    out = tmp_path / "exported"

    result = cli("tensorboard", run.id, "--export", out)

    assert result.returncode == 0, result.stderr
    folder = f"tb_train-{run.id}"
    assert event_runs(out) == {f"{folder}/train", f"{folder}/train/logs"}
    assert read_run(out / folder / "train") == expected_train(0.3)
    # The points keep the time each value was logged.
    ws = Workspace.open()
    logged = [p.logged_at.timestamp() for _, p in ws.store.lineage.metrics(run.id)]
    ws.close()
    assert wall_times(out / folder / "train", "loss") == pytest.approx(logged[: flow.STEPS])
    assert f"1 run(s) in {out}" in result.stdout


def test_a_tensorboardlogs_output_is_in_the_logdir_under_its_run(cli: Cli, tmp_path: Path) -> None:
    run = headwater.run(flow.tb_train, lr=0.5)
    out = tmp_path / "exported"

    result = cli("tensorboard", run.id, "--export", out)

    assert result.returncode == 0, result.stderr
    own = read_run(out / f"tb_train-{run.id}" / "train" / "logs")
    assert own == {
        "own/grad_norm": [(s, f32(10.0 * flow.loss_at(s, 0.5))) for s in range(flow.STEPS)]
    }
    # The copy holds the component's own files, unchanged.
    source = Path(run.outputs("train")["logs"].path)
    assert files(out / f"tb_train-{run.id}" / "train" / "logs") == files(source)


def test_a_user_subtype_of_tensorboardlogs_with_nested_folders(cli: Cli, tmp_path: Path) -> None:
    run = headwater.run(flow.tb_profile)
    out = tmp_path / "exported"

    result = cli("tensorboard", run.id, "--export", out)

    assert result.returncode == 0, result.stderr
    base = f"tb_profile-{run.id}/profile/logs"
    assert event_runs(out) == {f"{base}/train", f"{base}/validation"}
    assert read_run(out / base / "validation") == {"phase_time": [(0, 1.0), (1, 2.0), (2, 3.0)]}


def test_one_tensorboard_run_per_task_of_a_loop(cli: Cli, tmp_path: Path) -> None:
    run = headwater.run(flow.tb_sweep)
    out = tmp_path / "exported"

    result = cli("tensorboard", run.id, "--export", out)

    assert result.returncode == 0, result.stderr
    paths = sorted(p for p in run.tasks if p.endswith("train"))
    assert len(paths) == 2
    runs = event_runs(out)
    for path, lr in zip(paths, (0.1, 0.2), strict=True):
        assert f"tb_sweep-{run.id}/{path}" in runs
        assert read_run(out / f"tb_sweep-{run.id}" / path) == expected_train(lr)


def test_steps_of_values_logged_without_one(cli: Cli, tmp_path: Path) -> None:
    """No step: the step after the previous value of the tag, 0 for the first; a key logged
    through two outputs is two tags, OUTPUT/KEY; a step logged out of order is kept."""
    run = headwater.run(flow.tb_unstepped)
    out = tmp_path / "exported"

    result = cli("tensorboard", run.id, "--export", out)

    assert result.returncode == 0, result.stderr
    assert read_run(out / f"tb_unstepped-{run.id}" / "unstepped") == {
        "lr": [(0, 0.5), (1, 0.25), (2, 0.125)],
        "epoch_loss": [(5, 4.0), (10, 3.0), (11, 2.0)],
        "metrics/score": [(0, 1.0)],
        "extra/score": [(3, 2.0)],
    }


def test_exporting_again_changes_nothing_and_adds_nothing(cli: Cli, tmp_path: Path) -> None:
    run = headwater.run(flow.tb_train, lr=0.5)
    out = tmp_path / "exported"
    assert cli("tensorboard", run.id, "--export", out).returncode == 0
    before = files(out)
    times = {p: os.stat(out / p).st_mtime_ns for p in before}

    again = cli("tensorboard", run.id, "--export", out)

    assert again.returncode == 0, again.stderr
    assert "(0 file(s) written)" in again.stdout
    assert files(out) == before
    assert {p: os.stat(out / p).st_mtime_ns for p in before} == times
    assert read_run(out / f"tb_train-{run.id}" / "train") == expected_train(0.5)


def test_a_changed_or_removed_file_in_the_logdir_is_put_back(cli: Cli, tmp_path: Path) -> None:
    run = headwater.run(flow.tb_train, lr=0.5)
    out = tmp_path / "exported"
    assert cli("tensorboard", run.id, "--export", out).returncode == 0
    before = files(out)
    metrics_file = out / f"tb_train-{run.id}" / "train" / "events.out.tfevents.headwater"
    metrics_file.write_bytes(b"garbage")
    own = next((out / f"tb_train-{run.id}" / "train" / "logs").iterdir())
    own.unlink()
    stray = out / f"tb_train-{run.id}" / "train" / "logs" / "events.out.tfevents.stray"
    stray.write_bytes(b"stray")

    again = cli("tensorboard", run.id, "--export", out)

    assert again.returncode == 0, again.stderr
    assert "(2 file(s) written)" in again.stdout
    assert files(out) == before


def test_every_run_of_an_experiment_and_no_other(cli: Cli, tmp_path: Path) -> None:
    first = headwater.run(flow.tb_train, lr=0.1, experiment="lr-search")
    second = headwater.run(flow.tb_train, lr=0.2, experiment="lr-search")
    other = headwater.run(flow.tb_train, lr=0.3)
    out = tmp_path / "exported"

    result = cli("tensorboard", "--experiment", "lr-search", "--export", out)

    assert result.returncode == 0, result.stderr
    assert {p.name for p in out.iterdir()} == {f"tb_train-{first.id}", f"tb_train-{second.id}"}
    assert read_run(out / f"tb_train-{second.id}" / "train") == expected_train(0.2)
    # Runs named as well as an experiment: each once.
    both = cli("tensorboard", other.id, first.id[:16], "--experiment", "lr-search", "--export", out)
    assert both.returncode == 0, both.stderr
    assert len(list(out.iterdir())) == 3
    assert "3 run(s)" in both.stdout


def test_a_cached_run_shows_the_metrics_and_logs_it_reused(cli: Cli, tmp_path: Path) -> None:
    first = headwater.run(flow.tb_train, lr=0.4)
    second = headwater.run(flow.tb_train, lr=0.4)
    assert second.task("train").status is TaskStatus.CACHED
    assert second.task("train").cached_from == first.task("train").id
    out = tmp_path / "exported"

    result = cli("tensorboard", second.id, "--export", out)

    assert result.returncode == 0, result.stderr
    folder = out / f"tb_train-{second.id}" / "train"
    assert read_run(folder) == expected_train(0.4)
    assert "own/grad_norm" in read_run(folder / "logs")


def test_a_run_without_metrics_beside_one_with_them_is_left_out_with_a_note(
    cli: Cli, tmp_path: Path
) -> None:
    shown = headwater.run(flow.tb_train)
    quiet = headwater.run(flow.tb_quiet)
    out = tmp_path / "exported"

    result = cli("tensorboard", shown.id, quiet.id, "--export", out)

    assert result.returncode == 0, result.stderr
    assert f"run {quiet.id} (tb_quiet) logged no metrics" in result.stderr
    assert [p.name for p in out.iterdir()] == [f"tb_train-{shown.id}"]


def test_export_from_a_postgresql_store(postgres: str, cli: Cli, tmp_path: Path) -> None:
    run = headwater.run(flow.tb_train, lr=0.3, experiment="pg-exp")
    out = tmp_path / "exported"

    result = cli("tensorboard", "--experiment", "pg-exp", "--export", out)

    assert result.returncode == 0, result.stderr
    assert read_run(out / f"tb_train-{run.id}" / "train") == expected_train(0.3)
    assert "own/grad_norm" in read_run(out / f"tb_train-{run.id}" / "train" / "logs")


def test_the_spec_and_the_kubeflow_export_know_tensorboardlogs() -> None:
    from headwater.interop import to_kfp
    from headwater.sdk import compile_root

    folder = str(Path(flow.__file__).parent)
    with compile_root(folder):
        spec = flow.tb_profile.compile()
    assert spec.artifact_types["headwater.TensorBoardLogs"].bases == ["headwater.Artifact"]
    assert spec.artifact_types["tests.ProfilerLogs"].bases == [
        "headwater.TensorBoardLogs",
        "headwater.Artifact",
    ]
    with compile_root(folder):
        spec = flow.tb_train.compile()
    package = to_kfp(spec, base_image="python:3.11", root=folder)
    # Kubeflow has no such type: it keeps its title, as a user's own type does.
    assert "schemaTitle: headwater.TensorBoardLogs" in package.text


def test_tensorboardlogs_in_a_remote_artifact_store(
    ftp_artifacts: Path, cli: Cli, tmp_path: Path
) -> None:
    run = headwater.run(flow.tb_profile)
    assert run.status is RunStatus.SUCCEEDED
    assert run.outputs("profile")["logs"].uri.startswith("ftp://")
    out = tmp_path / "exported"

    result = cli("tensorboard", run.id, "--export", out)

    assert result.returncode == 0, result.stderr
    base = out / f"tb_profile-{run.id}" / "profile" / "logs"
    assert event_runs(out) == {
        f"tb_profile-{run.id}/profile/logs/train",
        f"tb_profile-{run.id}/profile/logs/validation",
    }
    assert read_run(base / "train") == {"phase_time": [(0, 0.0), (1, 1.0), (2, 2.0)]}
    stored = next(ftp_artifacts.rglob("validation"))
    assert files(base / "validation") == files(stored)
    again = cli("tensorboard", run.id, "--export", out)
    assert again.returncode == 0, again.stderr
    assert "(0 file(s) written)" in again.stdout
