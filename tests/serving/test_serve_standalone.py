"""``headwater standalone --deployment NAME`` runs ``headwater serve`` as a supervised
child: it answers the deployment, is started again after a SIGKILL, and goes away with
the standalone; an unknown deployment is refused before anything starts."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from serve_helpers import HERE, _register

STARTED = re.compile(r"headwater serve started \(pid (\d+)\)")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update({"HEADWATER_HOME": str(home), "NO_COLOR": "1"})
    return env


def _answer(url: str) -> int | None:
    body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1.0]}]}
    try:
        r = httpx.post(f"{url}/v2/models/web/infer", json=body, timeout=5)
    except httpx.HTTPError:
        return None
    return int(r.json()["outputs"][0]["data"][0]) if r.status_code == 200 else None


def _wait(check: object, what: str, log: Path, timeout: float = 120) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()  # type: ignore[operator]
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what}:\n{log.read_text(errors='replace')[-4000:]}")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_standalone_serves_a_deployment_and_restarts_it(tmp_path: Path) -> None:
    from headwater._config import Settings
    from headwater.engine import Workspace

    home = tmp_path / "home"
    env = _env(home)
    ws = Workspace.open(Settings.from_env(env))
    try:
        folder = tmp_path / "churn-1"
        shutil.copytree(HERE / "predictors" / "tagged", folder)
        (folder / "tag.txt").write_text("7")
        _register(ws, "churn", folder, ("champion",))
        ws.store.deployments.create("web", "churn@champion")
    finally:
        ws.close()
    command = [sys.executable, "-c", "from headwater.cli import run; run()", "standalone"]
    refused = subprocess.run(
        [*command, "--port", "0", "--deployment", "nope"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 1
    assert "no deployment 'nope'" in " ".join(refused.stderr.split())

    serve_port = _port()
    url = f"http://127.0.0.1:{serve_port}"
    log = tmp_path / "standalone.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                *command,
                *("--port", str(_port()), "--deployment", "web"),
                *("--serve-port", str(serve_port), "--serve-grpc-port", str(_port())),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        assert _wait(lambda: _answer(url), "the deployment did not answer", log) == 7
        [first] = STARTED.findall(log.read_text())
        os.kill(int(first), signal.SIGKILL)

        def restarted() -> int | None:
            pids = STARTED.findall(log.read_text())
            return int(pids[1]) if len(pids) == 2 and _answer(url) == 7 else None

        second = _wait(restarted, "serve was not started again", log)
        assert "exited with -9" in log.read_text()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    assert _wait(lambda: _gone(int(second)), "serve outlived the standalone", log, 30)  # type: ignore[arg-type]
