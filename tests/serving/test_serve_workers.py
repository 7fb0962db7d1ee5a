"""Each model runs in worker processes of its own: a worker killed with SIGKILL fails
the request it held with a clear 503 and is restarted, while the model's other worker
and the other models keep answering; with the zygote gone, workers start as fresh
interpreters; SIGTERM stops the server and every worker. One server for the module."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.grpc as tgrpc
from serve_helpers import Models, Server, start_server


@pytest.fixture(scope="module")
def server(models: Models, log_path: Path) -> Iterator[Server]:
    server = start_server(models.home, log_path, "echo", "text", "--workers", "2")
    yield server
    if server.process.poll() is None:
        server.stop()


def _echo(server: Server, **parameters: Any) -> httpx.Response:
    body = {
        "inputs": [{"name": "x", "datatype": "INT32", "shape": [1], "data": [1]}],
        "parameters": parameters,
    }
    return httpx.post(server.url + "/v2/models/echo/infer", json=body, timeout=120)


def _pid(response: httpx.Response) -> int:
    assert response.status_code == 200, response.text
    [pid] = [o["data"][0] for o in response.json()["outputs"] if o["name"] == "pid"]
    return int(pid)


def _pids(server: Server) -> set[int]:
    """The echo workers' pids: requests held long enough to reach both workers."""
    with ThreadPoolExecutor(4) as pool:
        return {_pid(r) for r in pool.map(lambda _: _echo(server, sleep=0.3), range(4))}


def _two(server: Server, without: int | None = None) -> set[int] | None:
    """The echo workers' pids once there are two again (and ``without`` is not one).
    A request sent to a worker killed an instant before, before the front noticed, is
    one it held when it died: a 503 that says so, and another try."""
    try:
        pids = _pids(server)
    except AssertionError as e:
        assert "stopped while answering" in str(e)
        return None
    return pids if len(pids) == 2 and without not in pids else None


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is gone but for its exit status
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def _text_answers(server: Server) -> None:
    client = tgrpc.InferenceServerClient(server.grpc)
    text = tgrpc.InferInput("text", [1], "BYTES")
    text.set_data_from_numpy(np.array([b"red sky"], dtype=object))
    meta = tgrpc.InferInput("meta", [1], "BYTES")
    meta.set_data_from_numpy(np.array([b"{}"], dtype=object))
    assert client.infer("text", [text, meta]).as_numpy("known").tolist() == [1]
    client.close()


def _wait_for(condition: Any, what: str) -> Any:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def test_a_killed_worker_fails_its_request_and_is_restarted(server: Server, tmp_path: Path) -> None:
    first = _pids(server)
    assert len(first) == 2  # two worker processes, both used
    zygote = {_parent(pid) for pid in first}
    assert len(zygote) == 1 and zygote != {server.process.pid}  # forked by the zygote

    # A request held in flight by one worker, which is then killed.
    started = tmp_path / "started"
    held: list[httpx.Response] = []
    holder = threading.Thread(
        target=lambda: held.append(_echo(server, started=str(started), sleep=60))
    )
    holder.start()
    victim = int(_wait_for(lambda: started.exists() and started.read_text(), "the held request"))
    os.kill(victim, signal.SIGKILL)
    holder.join(60)
    [failed] = held
    assert failed.status_code == 503
    error = failed.json()["error"]
    assert f"model 'echo' version 1: its worker (pid {victim}) stopped while answering" in error
    assert "(it was killed by SIGKILL); it is being restarted" in error

    # The other models and the model's other worker answer meanwhile; then the new one.
    _text_answers(server)
    assert _pid(_echo(server)) != victim
    survivors = _wait_for(lambda: _two(server), "a restart")
    assert victim not in survivors and first - {victim} <= survivors
    assert "restarting" in server.log.read_text()
    index = httpx.post(server.url + "/v2/repository/index", json={"ready": True}).json()
    assert {(m["name"], m["state"]) for m in index} == {("echo", "READY"), ("text", "READY")}

    # Without the zygote, a crashed worker comes back as a fresh interpreter.
    [zygote_pid] = zygote
    os.kill(zygote_pid, signal.SIGKILL)
    _wait_for(lambda: not _alive(zygote_pid), "the zygote's end")
    [one] = first - {victim}  # never crashed: restarted at once, no pause
    os.kill(one, signal.SIGKILL)
    fresh = _wait_for(lambda: _two(server, without=one), "a fresh worker")
    assert server.process.pid in {_parent(pid) for pid in fresh}
    _text_answers(server)

    # SIGTERM: the server ends cleanly and no worker outlives it.
    assert server.stop() == 0
    _wait_for(lambda: not any(_alive(pid) for pid in fresh), "the workers' end")
