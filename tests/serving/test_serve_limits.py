"""The limits of ``headwater serve``: a request its model does not answer within
``--request-timeout`` gets a 504 (gRPC DEADLINE_EXCEEDED) and the hung worker is killed
and started again, while other models answer; a gRPC client's own deadline ends the call
without killing the worker; a model that allocates past ``--worker-memory-mb`` gets
MemoryError, the request a 500 that names the limit, and its worker answers on; a limit
too small to load a model is refused, naming it; a scikit-learn model answers under the
limit as ever; the load API sets both per model.
One server for the module."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.grpc as tgrpc
from serve_helpers import Models, Server, served
from tritonclient.utils import InferenceServerException

TIMEOUT = 5  # seconds: the requests that time out sleep for minutes
MEMORY = 700  # MiB: a worker holds up to about 200 before it reads the model


@pytest.fixture(scope="module")
def server(models: Models, log_path: Path) -> Iterator[Server]:
    yield from served(
        models,
        log_path,
        "echo",
        "text",
        "iris@champion",
        "--request-timeout",
        str(TIMEOUT),
        "--worker-memory-mb",
        str(MEMORY),
    )


def _echo(server: Server, model: str = "echo", **parameters: Any) -> httpx.Response:
    body = {
        "inputs": [{"name": "x", "datatype": "INT32", "shape": [1], "data": [1]}],
        "parameters": parameters,
    }
    return httpx.post(f"{server.url}/v2/models/{model}/infer", json=body, timeout=120)


def _pid(response: httpx.Response) -> int:
    assert response.status_code == 200, response.text
    [pid] = [o["data"][0] for o in response.json()["outputs"] if o["name"] == "pid"]
    return int(pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:  # a zombie is gone but for its exit status
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_for(condition: Any, what: str) -> Any:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def _text_answers(server: Server) -> None:
    client = tgrpc.InferenceServerClient(server.grpc)
    text = tgrpc.InferInput("text", [1], "BYTES")
    text.set_data_from_numpy(np.array([b"red sky"], dtype=object))
    meta = tgrpc.InferInput("meta", [1], "BYTES")
    meta.set_data_from_numpy(np.array([b"{}"], dtype=object))
    assert client.infer("text", [text, meta]).as_numpy("known").tolist() == [1]
    client.close()


def _grpc_echo(server: Server, **parameters: Any) -> Any:
    client = tgrpc.InferenceServerClient(server.grpc)
    x = tgrpc.InferInput("x", [1], "INT32")
    x.set_data_from_numpy(np.array([1], dtype=np.int32))
    try:
        return client.infer("echo", [x], **parameters)
    finally:
        client.close()


def test_a_hung_request_times_out_and_its_worker_is_restarted(
    server: Server, tmp_path: Path
) -> None:
    started = tmp_path / "started"
    held: list[httpx.Response] = []
    holder = threading.Thread(
        target=lambda: held.append(_echo(server, started=str(started), sleep=600))
    )
    holder.start()
    hung = int(_wait_for(lambda: started.exists() and started.read_text(), "the hung request"))
    _text_answers(server)  # another model answers while echo hangs
    holder.join(120)
    [answer] = held
    assert answer.status_code == 504
    error = answer.json()["error"]
    assert (
        f"model 'echo' version 1 did not answer within {TIMEOUT} s: its worker (pid {hung}) "
        "was stopped and is being restarted" in error
    )
    assert "--request-timeout SECONDS, or the load parameter request_timeout" in error
    _wait_for(lambda: not _alive(hung), "the hung worker's end")
    assert _pid(_echo(server)) != hung  # a new worker answers
    assert f"stopped (it was stopped after a request ran past {TIMEOUT} s)" in (
        server.log.read_text()
    )

    # Over gRPC: DEADLINE_EXCEEDED, with the same words.
    with pytest.raises(InferenceServerException) as caught:
        _grpc_echo(server, parameters={"sleep": 600})
    assert caught.value.status() == "StatusCode.DEADLINE_EXCEEDED"
    assert f"did not answer within {TIMEOUT} s" in caught.value.message()
    _text_answers(server)


def test_a_grpc_client_deadline_ends_the_call_but_spares_the_worker(server: Server) -> None:
    before = _pid(_echo(server))
    with pytest.raises(InferenceServerException) as caught:
        _grpc_echo(server, parameters={"sleep": 2}, client_timeout=0.5)
    assert caught.value.status() == "StatusCode.DEADLINE_EXCEEDED"
    assert _pid(_echo(server)) == before  # the same worker answers on
    assert _alive(before)


def test_a_model_past_its_memory_limit_gets_memory_error(server: Server) -> None:
    before = _pid(_echo(server, allocate_mb=20))  # what fits is allocated as ever
    answer = _echo(server, allocate_mb=4 * MEMORY)
    assert answer.status_code == 500
    assert answer.json()["error"] == (
        f"model 'echo' version 1 failed: it ran out of memory: its worker may hold {MEMORY} "
        "MiB (--worker-memory-mb, or the load parameter worker_memory_mb); raise the limit"
    )
    assert _pid(_echo(server)) == before  # the allocation was refused: the worker lives
    _text_answers(server)


def test_a_scikit_learn_model_answers_under_the_memory_limit(
    server: Server, models: Models
) -> None:
    """RLIMIT_DATA, unlike RLIMIT_AS, leaves room for numpy's and scikit-learn's threads
    and libraries: the model answers as it does without a limit."""
    rows = models.rows
    body = {
        "inputs": [
            {
                "name": "X",
                "datatype": "FP64",
                "shape": list(rows.shape),
                "data": rows.ravel().tolist(),
            }
        ]
    }
    answer = httpx.post(f"{server.url}/v2/models/iris/infer", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    outputs = {o["name"]: o["data"] for o in answer.json()["outputs"]}
    assert outputs["predict"] == models.expected["iris/2"]["predict"].tolist()


def test_the_load_api_sets_and_checks_the_limits(server: Server) -> None:
    def load(model: str, **parameters: Any) -> httpx.Response:
        return httpx.post(
            f"{server.url}/v2/repository/models/{model}/load",
            json={"parameters": parameters},
            timeout=120,
        )

    refused = load("echo2", worker_memory_mb=10)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert "model 'echo2' version 1 could not be loaded: its worker already holds" in error
    assert "more than the limit of 10 MiB (--worker-memory-mb" in error
    assert load("echo2", request_timeout="soon").json()["error"] == (
        "request_timeout 'soon' is not a number (give a number of seconds above 0, e.g. 30 or 2.5)"
    )
    assert "request_timeout 0 must be more than 0" in load("echo2", request_timeout=0).text
    assert "worker_memory_mb 1.5 is not a whole number" in load("echo2", worker_memory_mb=1.5).text

    assert load("echo2", request_timeout=1, worker_memory_mb=MEMORY + 100).status_code == 200
    answer = _echo(server, "echo2", sleep=600)
    assert answer.status_code == 504
    assert "model 'echo2' version 1 did not answer within 1 s" in answer.json()["error"]
    # A loaded version takes a new timeout in place, not a new memory limit.
    assert load("echo2", request_timeout=600).status_code == 200
    assert _echo(server, "echo2", sleep=1.5).status_code == 200
    changed = load("echo2", worker_memory_mb=MEMORY)
    assert changed.status_code == 409
    assert f"is loaded with a worker memory limit of {MEMORY + 100} MiB" in changed.text
    answer = _echo(server, "echo2", allocate_mb=4 * MEMORY)
    assert f"its worker may hold {MEMORY + 100} MiB" in answer.json()["error"]
