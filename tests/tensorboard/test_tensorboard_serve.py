"""``headwater tensorboard RUN``: the real TensorBoard started on the exported runs, asked
through its scalars API, then stopped with Ctrl-C (SIGINT) or SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tensorboard_flow as flow
from tb_helpers import cli_env, headwater_command

import headwater

STARTUP = 180.0  # seconds: TensorBoard's imports on a busy machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def started(*args: str | Path, cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``headwater ARGS`` in a session of its own, its output in cwd/cli.out and cli.err;
    killed at the end if the test did not stop it."""
    with (cwd / "cli.out").open("wb") as out, (cwd / "cli.err").open("wb") as err:
        process = subprocess.Popen(
            [*headwater_command(), *(str(a) for a in args)],
            cwd=cwd,
            env=cli_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def output(cwd: Path) -> str:
    return (cwd / "cli.out").read_text() + (cwd / "cli.err").read_text()


def poll_tags(process: subprocess.Popen[bytes], url: str, runs: set[str], cwd: Path) -> Any:
    """TensorBoard's scalar tags by run, once it has loaded every run in ``runs``."""
    deadline = time.monotonic() + STARTUP
    last: Any = None
    while time.monotonic() < deadline:
        assert process.poll() is None, output(cwd)
        try:
            last = httpx.get(f"{url}/data/plugin/scalars/tags", timeout=5).json()
            if runs <= set(last):
                return last
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"TensorBoard did not show {runs} in time; last answer {last}: {output(cwd)}")


def scalars(url: str, run: str, tag: str) -> list[tuple[int, float]]:
    rows = httpx.get(
        f"{url}/data/plugin/scalars/scalars", params={"run": run, "tag": tag}, timeout=10
    ).json()
    return [(int(step), float(value)) for _, step, value in rows]


def port_answers(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_tensorboard_serves_the_runs_scalars_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    run = headwater.run(flow.tb_train, lr=0.3)
    sweep = headwater.run(flow.tb_sweep)
    port = free_port()
    url = f"http://localhost:{port}"
    base, loop = f"tb_train-{run.id}", f"tb_sweep-{sweep.id}"
    loop_tasks = sorted(p for p in sweep.tasks if p.endswith("train"))

    with started("tensorboard", run.id, sweep.id, "--port", port, cwd=tmp_path) as process:
        expect = {f"{base}/train", f"{base}/train/logs", *(f"{loop}/{p}" for p in loop_tasks)}
        tags = poll_tags(process, url, expect, tmp_path)

        assert set(tags[f"{base}/train"]) == {"loss", "accuracy"}
        assert set(tags[f"{base}/train/logs"]) == {"own/grad_norm"}
        f32 = lambda v: float(np.float32(v))  # noqa: E731
        assert scalars(url, f"{base}/train", "loss") == [
            (s, f32(flow.loss_at(s, 0.3))) for s in range(flow.STEPS)
        ]
        last = flow.loss_at(flow.STEPS - 1, 0.3)
        assert scalars(url, f"{base}/train", "accuracy") == [(0, f32(1.0 - last))]
        assert scalars(url, f"{base}/train/logs", "own/grad_norm") == [
            (s, f32(10.0 * flow.loss_at(s, 0.3))) for s in range(flow.STEPS)
        ]
        for path, lr in zip(loop_tasks, (0.1, 0.2), strict=True):
            assert scalars(url, f"{loop}/{path}", "loss") == [
                (s, f32(flow.loss_at(s, lr))) for s in range(flow.STEPS)
            ]
        printed = (tmp_path / "cli.out").read_text()
        assert f"TensorBoard at http://localhost:{port}/" in printed
        logdir = Path(re.search(r"2 run\(s\) in (\S+)", printed).group(1))  # type: ignore[union-attr]
        assert logdir.is_dir()

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0, output(tmp_path)

    assert "TensorBoard stopped" in output(tmp_path)
    assert not port_answers(port)
    assert not logdir.exists()  # the temporary log directory goes with it


def test_logdir_is_kept_and_sigterm_stops_tensorboard(tmp_path: Path) -> None:
    run = headwater.run(flow.tb_unstepped)
    logdir = tmp_path / "board"

    with started("tensorboard", run.id, "--port", "0", "--logdir", logdir, cwd=tmp_path) as process:
        deadline = time.monotonic() + STARTUP
        while "TensorBoard at" not in output(tmp_path):
            assert process.poll() is None, output(tmp_path)
            assert time.monotonic() < deadline, output(tmp_path)
            time.sleep(0.2)
        url = re.search(r"TensorBoard at (http://\S+?)/? ", output(tmp_path)).group(1)  # type: ignore[union-attr]
        name = f"tb_unstepped-{run.id}/unstepped"
        tags = poll_tags(process, url, {name}, tmp_path)
        assert set(tags[name]) == {"lr", "epoch_loss", "metrics/score", "extra/score"}
        assert scalars(url, name, "epoch_loss") == [(5, 4.0), (10, 3.0), (11, 2.0)]

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, output(tmp_path)

    port = int(url.rsplit(":", 1)[1])
    assert not port_answers(port)
    assert (logdir / name / "events.out.tfevents.headwater").is_file()


def test_the_tags_api_matches_the_exported_files(tmp_path: Path) -> None:
    """What TensorBoard serves is what TensorBoard's reader reads from an --export."""
    from tb_read import read_run

    run = headwater.run(flow.tb_profile)
    exported = tmp_path / "exported"
    done = subprocess.run(
        [*headwater_command(), "tensorboard", run.id, "--export", str(exported)],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    port = free_port()
    url = f"http://localhost:{port}"
    base = f"tb_profile-{run.id}/profile/logs"
    with started("tensorboard", run.id, "--port", port, cwd=tmp_path) as process:
        tags = poll_tags(process, url, {f"{base}/train", f"{base}/validation"}, tmp_path)
        for phase in ("train", "validation"):
            read = read_run(exported / base / phase)
            assert set(tags[f"{base}/{phase}"]) == set(read)
            for tag, points in read.items():
                assert scalars(url, f"{base}/{phase}", tag) == points
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0, output(tmp_path)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the child in /proc")
def test_tensorboard_ending_by_itself_is_an_error(tmp_path: Path) -> None:
    run = headwater.run(flow.tb_train)

    with started("tensorboard", run.id, "--port", "0", cwd=tmp_path) as process:
        deadline = time.monotonic() + STARTUP
        while "TensorBoard at" not in output(tmp_path):
            assert process.poll() is None, output(tmp_path)
            assert time.monotonic() < deadline, output(tmp_path)
            time.sleep(0.2)
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        assert len(children) == 1
        os.kill(int(children[0]), signal.SIGKILL)

        assert process.wait(timeout=60) == 1

    text = " ".join(output(tmp_path).split())
    assert "error: TensorBoard stopped by itself (exit status -9)" in text
    logdir = re.search(r"1 run\(s\) in (\S+)", text).group(1)  # type: ignore[union-attr]
    assert not Path(logdir).exists()


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the child in /proc")
def test_headwater_tensorboard_killed_takes_tensorboard_with_it_and_its_folder_goes_next_time(
    tmp_path: Path,
) -> None:
    run = headwater.run(flow.tb_unstepped)

    with started("tensorboard", run.id, "--port", "0", cwd=tmp_path) as process:
        deadline = time.monotonic() + STARTUP
        while "TensorBoard at" not in output(tmp_path):
            assert process.poll() is None, output(tmp_path)
            assert time.monotonic() < deadline, output(tmp_path)
            time.sleep(0.2)
        url = re.search(r"TensorBoard at (http://\S+?)/? ", output(tmp_path)).group(1)  # type: ignore[union-attr]
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        assert len(children) == 1
        board = int(children[0])

        process.send_signal(signal.SIGKILL)  # headwater alone: it can stop nothing
        process.wait(timeout=30)

        # TensorBoard goes with it (its threads may take a moment to close its socket).
        port = int(url.rsplit(":", 1)[1])
        deadline = time.monotonic() + 30
        while not _gone(board) or port_answers(port):
            assert time.monotonic() < deadline, "TensorBoard outlived headwater tensorboard"
            time.sleep(0.1)
    logdir = Path(re.search(r"1 run\(s\) in (\S+)", output(tmp_path)).group(1))  # type: ignore[union-attr]
    scratch = logdir.parent
    assert scratch.parent.name == "tmp" and scratch.name.startswith(f"tensorboard-{process.pid}-")
    assert scratch.is_dir()  # nobody was left to remove it

    done = subprocess.run(
        [*headwater_command(), "tensorboard", run.id, "--export", str(tmp_path / "exported")],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert not scratch.exists()  # the next headwater tensorboard removed it
    assert not list(scratch.parent.iterdir())  # and its own
