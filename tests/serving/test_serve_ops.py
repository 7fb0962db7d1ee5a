"""Adaptive batching and observability of ``headwater serve``: batched answers equal
unbatched ones (each with its own id), batches form (counted by the server's own
Prometheus metrics, scraped from ``GET /metrics`` and parsed with prometheus_client's
text parser), requests, errors and latencies are counted per model, version, protocol
and outcome, the access log writes sampled lines, and batching is refused where rows are
not independent. One server for the module."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.grpc as tgrpc
from prometheus_client.parser import text_string_to_metric_families
from serve_helpers import Models, Server, served

# A batch is sent when 4 requests are there (or after 10 s, which no test waits for):
# 8 requests at once make exactly 2 batches of 4, whatever the timing.
BATCH = 4


@pytest.fixture(scope="module")
def server(models: Models, log_path: Path) -> Iterator[Server]:
    yield from served(
        models,
        log_path,
        "iris@champion",
        "--max-batch-size",
        str(BATCH),
        "--max-batch-wait-ms",
        "10000",
        "--access-log-sample",
        "1",
    )


def _body(rows: Any, request_id: str) -> dict[str, Any]:
    return {
        "id": request_id,
        "inputs": [
            {
                "name": "X",
                "datatype": "FP64",
                "shape": list(rows.shape),
                "data": rows.ravel().tolist(),
            }
        ],
        "outputs": [{"name": "predict_proba"}],
    }


def _scrape(server: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(f"{server.url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _eight(server: Server, models: Models, tag: str) -> list[dict[str, Any]]:
    """8 requests at once, of 1 to 3 rows each; their answers in order."""
    slices = [models.rows[i % 3 : i % 3 + 1 + i % 2] for i in range(8)]

    def send(i: int) -> dict[str, Any]:
        body = _body(slices[i], f"{tag}-{i}")
        response = httpx.post(f"{server.url}/v2/models/iris/infer", json=body, timeout=60)
        assert response.status_code == 200, response.text
        return dict(response.json())

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    expected = models.expected["iris/2"]["predict_proba"]
    for i, answer in enumerate(answers):
        assert answer["id"] == f"{tag}-{i}"
        [output] = answer["outputs"]
        got = np.array(output["data"]).reshape(output["shape"])
        np.testing.assert_allclose(got, expected[i % 3 : i % 3 + 1 + i % 2], rtol=1e-12)
    return answers


def test_batched_answers_equal_unbatched_ones_and_batches_form(
    server: Server, models: Models
) -> None:
    assert (
        "serving model 'iris' version 2 (sklearn, 1 worker, batches of up to 4 within 10000 ms)"
        in "".join(server.lines)
    )
    before = _scrape(server)
    batched = _eight(server, models, "batched")
    after = _scrape(server)
    labels = {"model": "iris", "version": "2"}
    count = "headwater_serving_batch_size_count"
    total = "headwater_serving_batch_size_sum"
    assert _value(after, count, **labels) - _value(before, count, **labels) == 2
    assert _value(after, total, **labels) - _value(before, total, **labels) == 8
    assert (
        _value(after, "headwater_serving_batch_size_bucket", le="4.0", **labels)
        - _value(before, "headwater_serving_batch_size_bucket", le="4.0", **labels)
        == 2
    )

    # Batching off (the load API, on the loaded version): the same answers, batches of 1.
    off = httpx.post(
        f"{server.url}/v2/repository/models/iris/load",
        json={"parameters": {"max_batch_size": 1}},
        timeout=60,
    )
    assert off.status_code == 200, off.text
    try:
        unbatched = _eight(server, models, "batched")
        final = _scrape(server)
        assert _value(final, count, **labels) - _value(after, count, **labels) == 8
        # Equal up to rounding: a matrix product may sum in another order for more rows.
        for a, b in zip(unbatched, batched, strict=True):
            [x], [y] = a["outputs"], b["outputs"]
            assert (x["name"], x["datatype"], x["shape"]) == (y["name"], y["datatype"], y["shape"])
            np.testing.assert_allclose(x["data"], y["data"], rtol=1e-12)
    finally:
        on = httpx.post(
            f"{server.url}/v2/repository/models/iris/load",
            json={"parameters": {"max_batch_size": BATCH, "max_batch_wait_ms": 10000}},
            timeout=60,
        )
        assert on.status_code == 200, on.text


def test_requests_errors_and_latencies_are_counted_per_protocol(
    server: Server, models: Models
) -> None:
    labels = {"model": "iris", "version": "2"}
    before = _scrape(server)
    # 4 gRPC requests make one batch; a REST request of the wrong width is refused.
    client = tgrpc.InferenceServerClient(server.grpc)
    try:

        def send(i: int) -> Any:
            tensor = tgrpc.InferInput("X", [1, 4], "FP64")
            tensor.set_data_from_numpy(models.rows[i % 3 : i % 3 + 1])
            return client.infer("iris", [tensor], request_id=f"grpc-{i}")

        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(send, range(4)))
    finally:
        client.close()
    for i, answer in enumerate(answers):
        assert answer.get_response().id == f"grpc-{i}"
        np.testing.assert_array_equal(
            answer.as_numpy("predict"), models.expected["iris/2"]["predict"][i % 3 : i % 3 + 1]
        )
    bad = httpx.post(
        f"{server.url}/v2/models/iris/infer", json=_body(np.zeros((1, 3)), "wrong"), timeout=10
    )
    assert bad.status_code == 400
    unknown = httpx.post(
        f"{server.url}/v2/models/nope/infer", json=_body(np.zeros((1, 4)), "x"), timeout=10
    )
    assert unknown.status_code == 404
    after = _scrape(server)

    def grew(name: str, **more: str) -> float:
        return _value(after, name, **labels, **more) - _value(before, name, **labels, **more)

    requests = "headwater_serving_requests_total"
    assert grew(requests, protocol="grpc", outcome="ok") == 4
    assert grew(requests, protocol="rest", outcome="client_error") == 1
    assert grew(requests, protocol="rest", outcome="ok") == 0
    assert grew("headwater_serving_errors_total", protocol="rest", status="400") == 1
    assert grew("headwater_serving_request_duration_seconds_count", protocol="grpc") == 4
    assert grew("headwater_serving_request_duration_seconds_count", protocol="rest") == 1
    assert grew("headwater_serving_batch_size_count") == 1
    assert _value(after, "headwater_serving_in_flight_requests", **labels) == 0
    # An unknown model is answered, not counted: labels do not grow with what clients send.
    assert not [key for key in after if ("model", "nope") in key[1]]
    # Every request is in the access log (sampled at 1): id, model, version, status.
    log = server.log.read_text()
    assert "access id=grpc-2 model=iris version=2 protocol=grpc status=200 latency_ms=" in log
    assert "access id=wrong model=iris version=2 protocol=rest status=400 latency_ms=" in log


def test_batching_is_refused_where_it_cannot_be_honoured(server: Server) -> None:
    def load(name: str, parameters: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            f"{server.url}/v2/repository/models/{name}/load",
            json={"parameters": parameters},
            timeout=120,
        )

    refused = load("echo", {"max_batch_size": 8})
    assert refused.status_code == 400
    assert (
        "model 'echo' version 1 cannot batch requests: its runtime (python) does not say "
        "that its rows are independent" in refused.json()["error"]
    )
    assert "batchable = True" in refused.json()["error"]
    for parameters, message in (
        ({"max_batch_size": 0}, "max_batch_size 0 is out of range"),
        ({"max_batch_size": "8"}, "max_batch_size '8' is not a whole number"),
        ({"max_batch_size": 8, "max_batch_wait_ms": -1}, "max_batch_wait_ms -1 is out of range"),
        ({"max_batch_wait_ms": 5}, "max_batch_wait_ms is given without max_batch_size"),
    ):
        answer = load("iris", parameters)
        assert answer.status_code == 400, parameters
        assert message in answer.json()["error"]
    # The server still serves, batched as before.
    assert httpx.get(f"{server.url}/v2/models/iris/ready", timeout=10).status_code == 200
    assert httpx.get(f"{server.url}/v2/models/echo/ready", timeout=10).status_code == 404


def test_a_python_predictor_that_declares_independent_rows_batches(server: Server) -> None:
    loaded = httpx.post(
        f"{server.url}/v2/repository/models/rows/load",
        json={"parameters": {"max_batch_size": 2, "max_batch_wait_ms": 10000}},
        timeout=120,
    )
    assert loaded.status_code == 200, loaded.text

    def send(request: tuple[int, int, dict[str, Any]]) -> httpx.Response:
        rows, width, parameters = request
        data = np.arange(rows * width, dtype=np.float64).reshape(rows, width)
        body = {
            "inputs": [{"name": "x", "datatype": "FP64", "shape": [rows, width],
                        "data": data.ravel().tolist()}],
            "parameters": parameters,
        }  # fmt: skip
        return httpx.post(f"{server.url}/v2/models/rows/infer", json=body, timeout=60)

    # Two of 3 columns and two of 5, at once: batches of 2 form per width, never mixed.
    requests = [(1, 3, {}), (2, 5, {}), (2, 3, {}), (1, 5, {})]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, requests))
    for (rows, width, _), answer in zip(requests, answers, strict=True):
        assert answer.status_code == 200, answer.text
        outputs = {o["name"]: o for o in answer.json()["outputs"]}
        assert outputs["doubled"]["shape"] == [rows, width]
        assert outputs["doubled"]["data"] == [2.0 * v for v in range(rows * width)]
        assert outputs["seen"]["data"] == [3] * rows  # a batch of 1 + 2 rows
    # A model that answers fewer rows than it was sent fails each request of the batch.
    with ThreadPoolExecutor(2) as pool:
        broken = list(pool.map(send, [(1, 3, {"short": True}), (1, 3, {"short": True})]))
    for answer in broken:
        assert answer.status_code == 500
        assert "a batching model must answer one row per input row" in answer.json()["error"]
