"""Bad input to ``headwater tensorboard``: a clear error (what, where, how to fix), exit
status 1, and nothing written, nothing started."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import tensorboard_flow as flow
from tb_helpers import Cli, cli_env

import headwater


@pytest.fixture
def run_id() -> str:
    return headwater.run(flow.tb_train).id


def refused(result: subprocess.CompletedProcess[str], *parts: str) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: "), result.stderr
    assert "fix: " in result.stderr, result.stderr
    text = " ".join(result.stderr.split())
    for part in parts:
        assert part in text, text
    assert "Traceback" not in result.stderr
    assert "TensorBoard at" not in result.stdout
    return text


def test_tensorboard_not_installed_names_the_extra(run_id: str, tmp_path: Path) -> None:
    out = tmp_path / "exported"
    # The import of tensorboard fails as it does where the package is missing.
    driver = (
        "import sys; sys.modules['tensorboard'] = None; "
        "sys.argv = ['headwater', *sys.argv[1:]]; "
        "from headwater.cli import run; run()"
    )
    result = subprocess.run(
        [sys.executable, "-c", driver, "tensorboard", run_id, "--export", str(out)],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    refused(result, "needs TensorBoard", "pip install 'headwater[tensorboard]'")
    assert not out.exists()


def test_an_unknown_run(cli: Cli, run_id: str, tmp_path: Path) -> None:
    out = tmp_path / "exported"
    text = refused(
        cli("tensorboard", run_id, "zzzzzzzz", "yyyyyyyy", "--export", out),
        "no run 'zzzzzzzz'",
        "no run 'yyyyyyyy'",
        "headwater runs list",
    )
    assert run_id not in text
    assert not out.exists()


def test_no_runs_and_no_experiment(cli: Cli, tmp_path: Path) -> None:
    refused(cli("tensorboard", "--export", tmp_path / "x"), "no runs to show", "--experiment")
    assert not (tmp_path / "x").exists()


def test_an_experiment_with_no_runs(cli: Cli, run_id: str, tmp_path: Path) -> None:
    out = tmp_path / "exported"
    refused(
        cli("tensorboard", "--experiment", "nothing-here", "--export", out),
        "experiment 'nothing-here' has no runs",
    )
    refused(
        cli("tensorboard", "--experiment", "bad name!", "--export", out),
        "experiment name 'bad name!' is not valid",
    )
    assert not out.exists()


def test_runs_with_nothing_to_show(cli: Cli, tmp_path: Path) -> None:
    quiet = headwater.run(flow.tb_quiet)
    out = tmp_path / "exported"
    refused(
        cli("tensorboard", quiet.id, "--export", out),
        f"nothing to show: run {quiet.id} logged no metrics",
        "log_metric",
        "Output[TensorBoardLogs]",
    )
    assert not out.exists()


def test_a_port_in_use(cli: Cli, run_id: str, tmp_path: Path) -> None:
    logdir = tmp_path / "board"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("tensorboard", run_id, "--port", port, "--logdir", logdir)
    refused(result, f"port {port} on localhost is in use", "--port")
    assert not logdir.exists()


def test_a_host_that_is_not_this_machine(cli: Cli, run_id: str, tmp_path: Path) -> None:
    refused(
        cli("tensorboard", run_id, "--host", "no-such-host.invalid", "--port", "0"),
        "--host 'no-such-host.invalid' is not a name or address of this machine",
    )
    refused(
        cli("tensorboard", run_id, "--host", "192.0.2.1", "--port", "0"),
        "TensorBoard cannot listen on 192.0.2.1:0",
    )


def test_a_port_out_of_range(cli: Cli, run_id: str) -> None:
    result = cli("tensorboard", run_id, "--port", "70000")
    assert result.returncode == 2
    assert "--port" in result.stderr and "70000" in result.stderr


def test_an_export_folder_that_is_a_file(cli: Cli, run_id: str, tmp_path: Path) -> None:
    file = tmp_path / "a-file"
    file.write_text("keep me")
    refused(
        cli("tensorboard", run_id, "--export", file), f"--export {file} is a file, not a folder"
    )
    refused(
        cli("tensorboard", run_id, "--export", file / "below"),
        f"--export {file / 'below'} cannot be made: {file} is a file",
    )
    refused(
        cli("tensorboard", run_id, "--logdir", file, "--port", "0"),
        f"--logdir {file} is a file, not a folder",
    )
    assert file.read_text() == "keep me"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/sys is Linux's")
def test_an_export_folder_that_cannot_be_written(cli: Cli, run_id: str) -> None:
    # /sys refuses new files and folders to every user, root included.
    refused(cli("tensorboard", run_id, "--export", "/sys"), "--export /sys is not writable")
    refused(
        cli("tensorboard", run_id, "--export", "/sys/headwater-board"),
        "--export /sys/headwater-board cannot be made in /sys",
    )
    assert not os.path.exists("/sys/headwater-board")


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes to any folder"
)
def test_an_export_folder_without_write_permission(cli: Cli, run_id: str, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        refused(
            cli("tensorboard", run_id, "--export", locked), f"--export {locked} is not writable"
        )
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_export_refuses_the_options_of_the_server(cli: Cli, run_id: str, tmp_path: Path) -> None:
    out = tmp_path / "exported"
    refused(
        cli("tensorboard", run_id, "--export", out, "--port", "7000", "--host", "0.0.0.0"),
        "--port and --host are for the TensorBoard it would not start",
    )
    refused(
        cli("tensorboard", run_id, "--export", out, "--logdir", tmp_path / "b"),
        "--logdir is for the TensorBoard",
    )
    assert not out.exists() and not (tmp_path / "b").exists()


def test_tensorboardlogs_whose_files_are_gone(cli: Cli, tmp_path: Path) -> None:
    import shutil

    run = headwater.run(flow.tb_train)
    stored = Path(run.outputs("train")["logs"].path)
    shutil.rmtree(stored)
    out = tmp_path / "exported"
    refused(
        cli("tensorboard", run.id, "--export", out),
        "the files of TensorBoardLogs output 'logs' of task 'train'",
        f"are gone from {run.outputs('train')['logs'].uri}",
        "run the pipeline again",
    )
    assert not out.exists()
