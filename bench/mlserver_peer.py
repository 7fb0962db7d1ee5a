"""MLServer, the serving benchmark's reference: started on a joblib scikit-learn model in
its own virtual environment (``make bench`` builds ``.venvs/mlserver`` from
tests/peers/mlserver-requirements.txt), with the same worker count as ``headwater serve``.

``python bench/mlserver_peer.py MODEL.joblib`` starts it, prints one prediction over its
REST API and stops it (a check of the environment).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
MLSERVER = ROOT / ".venvs" / "mlserver" / "bin" / "mlserver"
STARTUP = 120.0


def available() -> str | None:
    """None when MLServer can be started, else why not (with the command that fixes it)."""
    if not MLSERVER.is_file():
        return f"{MLSERVER} is missing: build it with 'make .venvs/mlserver/.installed'"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class MLServer:
    """A running MLServer: its process, ports and the model's name."""

    process: subprocess.Popen[bytes]
    http_port: int
    grpc_port: int
    model: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


@contextmanager
def mlserver(model_path: Path, *, name: str = "model", workers: int = 1) -> Iterator[MLServer]:
    """MLServer serving the joblib model at ``model_path`` as ``name`` with ``workers``
    inference workers, REST and gRPC on free ports of 127.0.0.1; stopped at the end."""
    why = available()
    if why:
        raise RuntimeError(why)
    with tempfile.TemporaryDirectory(prefix="mlserver-") as tmp:
        folder = Path(tmp)
        http_port, grpc_port = _free_port(), _free_port()
        (folder / "settings.json").write_text(
            json.dumps(
                {
                    "host": "127.0.0.1",
                    "http_port": http_port,
                    "grpc_port": grpc_port,
                    "metrics_port": _free_port(),
                    "parallel_workers": workers,
                    "debug": False,
                }
            )
        )
        model_dir = folder / name
        model_dir.mkdir()
        (model_dir / "model.joblib").write_bytes(Path(model_path).read_bytes())
        (model_dir / "model-settings.json").write_text(
            json.dumps(
                {
                    "name": name,
                    "implementation": "mlserver_sklearn.SKLearnModel",
                    "parameters": {"uri": "./model.joblib"},
                }
            )
        )
        log = (folder / "mlserver.log").open("wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HEADWATER_", "PYTHON"))}
        process = subprocess.Popen(
            [str(MLSERVER), "start", str(folder)],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = MLServer(process, http_port, grpc_port, name)
        try:
            _wait_ready(server, folder / "mlserver.log")
            yield server
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


def _wait_ready(server: MLServer, log: Path) -> None:
    deadline = time.monotonic() + STARTUP
    ready = f"{server.url}/v2/models/{server.model}/ready"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"MLServer stopped while starting: {log.read_text()[-2000:]}")
        try:
            if httpx.get(ready, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"MLServer was not ready within {STARTUP:.0f}s: {log.read_text()[-2000:]}")


def main() -> None:
    model = Path(sys.argv[1])
    with mlserver(model) as server:
        body = {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [1, 4],
                    "datatype": "FP64",
                    "data": [0.9, 0.8, 0.1, 0.2],
                }
            ]
        }
        answer = httpx.post(f"{server.url}/v2/models/{server.model}/infer", json=body, timeout=10)
        print(answer.status_code, answer.json())


if __name__ == "__main__":
    main()
