"""Serving benchmark (issue 15): a scikit-learn LogisticRegression behind ``headwater
serve`` and behind MLServer (one worker each, in the same run), 1 row per request from 8
concurrent clients, over REST and gRPC: throughput and latency percentiles side by side;
a check that the same requests get the same predictions from both; the same load on
``headwater serve --max-batch-size 8 --max-batch-wait-ms 1`` (adaptive batching; its
answers checked against the unbatched ones); and the time from the registry to ready.

The clients are as light as a client can be, so that the server's cost is what is
measured (they share the machine's cores with it): REST requests are prebuilt bytes on
8 keep-alive connections, read back by Content-Length; gRPC requests are prebuilt
messages sent on one channel by 8 concurrent callers, the answers left as bytes. Every
answer is checked for status 200 (REST) or OK (gRPC).

The issue's reference is MLServer (``mlserver_peer``: its own virtual environment,
``make .venvs/mlserver/.installed``) serving the same joblib file with the same worker
count; both servers answer the same V2 REST and gRPC requests (MLServer's gRPC service is
the same proto) from the same clients. Both run side by side and are measured in turns
(3 rounds each way), so that the load other processes put on the machine falls on both.
Without MLServer's environment its rows say how to build it.
``python bench/bench_serving.py [SECONDS]`` runs this alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mlserver_peer
import numpy as np
from _table import Row

CLIENTS = 8
SECONDS = 10.0
BATCHING = ("--max-batch-size", str(CLIENTS), "--max-batch-wait-ms", "1")
ROUNDS = 3  # each server's measured time is split into rounds that take turns
LOAD_TARGET = 1.0  # registry -> ready, for a 10 MB model

REGISTER = """
import os, sys, joblib, numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.ensemble import RandomForestClassifier
from headwater.engine import Workspace
from headwater.registry import register_artifact
from headwater.store import NewArtifact

home = os.environ["HEADWATER_HOME"]
ws = Workspace.open()
rng = np.random.default_rng(0)
x = rng.random((200, 4)); y = (x[:, 0] + x[:, 1] > 1).astype(int)
def add(name, model):
    path = os.path.join(home, name + ".joblib")
    joblib.dump(model, path)
    art = ws.store.lineage.add_artifact(NewArtifact(name, "headwater.Model", path, None, None))
    register_artifact(ws.store, name, art.id)
    return os.path.getsize(path)
add("logreg", LogisticRegression().fit(x, y))
big_x, big_y = rng.random((20000, 4)), rng.integers(0, 2, 20000)
def forest(trees):
    model = RandomForestClassifier(n_estimators=trees, random_state=0).fit(big_x, big_y)
    path = os.path.join(home, "sizing.joblib")
    joblib.dump(model, path)
    return model, os.path.getsize(path)
model, size = forest(4)
model, size = forest(max(1, round(4 * 10_000_000 / size)))  # a forest of about 10 MB
print(add("big", model))
"""


def _start(home: Path, model: str, *extra: str) -> tuple[subprocess.Popen[str], int, int, float]:
    env = {**os.environ, "HEADWATER_HOME": str(home)}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from headwater.cli import run; run()", "serve", model,
         "--port", "0", "--grpc-port", "0", *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        found = re.search(r"REST http://[\d.]+:(\d+)/v2, gRPC [\d.]+:(\d+)", line)
        if found:
            return proc, int(found[1]), int(found[2]), time.perf_counter() - started
    proc.wait()
    raise RuntimeError(
        f"headwater serve did not start: {proc.stderr.read() if proc.stderr else ''}"
    )


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


ROW = [0.3, 0.8, 0.1, 0.5]


async def _rest_client(port: int, until: float, latencies: list[float]) -> int:
    # "X" is the input's name for headwater serve; MLServer's scikit-learn runtime takes
    # whatever its one input is called.
    body = json.dumps(
        {
            "inputs": [{"name": "X", "datatype": "FP64", "shape": [1, 4], "data": ROW}],
            "outputs": [{"name": "predict"}],
        }
    ).encode()
    request = (
        f"POST /v2/models/logreg/infer HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    failures = 0
    while time.perf_counter() < until:
        start = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: (\d+)", head)[1])  # type: ignore[index]
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - start)
        failures += not head.startswith(b"HTTP/1.1 200")
    writer.close()
    return failures


async def _grpc_client(channel: object, until: float, latencies: list[float]) -> int:
    import grpc
    import tritonclient.grpc.service_pb2 as pb

    request = pb.ModelInferRequest(model_name="logreg")
    tensor = request.inputs.add(name="X", datatype="FP64", shape=[1, 4])
    tensor.contents.fp64_contents.extend(ROW)
    request.outputs.add(name="predict")
    payload = request.SerializeToString()
    call = channel.unary_unary(  # type: ignore[attr-defined]
        "/inference.GRPCInferenceService/ModelInfer",
        request_serializer=None,
        response_deserializer=None,
    )
    failures = 0
    while time.perf_counter() < until:
        start = time.perf_counter()
        try:
            await call(payload)
        except grpc.RpcError:
            failures += 1
        latencies.append(time.perf_counter() - start)
    return failures


async def _load(kind: str, port: int, seconds: float) -> tuple[int, float, list[float], int]:
    """8 clients for ``seconds`` after a 1 s warm-up: answers, time taken, latencies,
    failures."""
    import grpc

    latencies: list[float] = []
    warm = time.perf_counter() + 1.0
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}") if kind == "grpc" else None
    for until in (warm, time.perf_counter() + 1.0 + seconds):  # a warm-up, then measured
        latencies.clear()
        start = time.perf_counter()
        if kind == "rest":
            runs = [_rest_client(port, until, latencies) for _ in range(CLIENTS)]
        else:
            runs = [_grpc_client(channel, until, latencies) for _ in range(CLIENTS)]
        failures = sum(await asyncio.gather(*runs))
        elapsed = time.perf_counter() - start
    if channel is not None:
        await channel.close()
    return len(latencies), elapsed, latencies, failures


def _summary(rounds: list[tuple[int, float, list[float], int]]) -> tuple[float, float, float, int]:
    """Throughput (the median round's), p50 and p99 (of every round's latencies), failures."""
    rate = statistics.median(count / elapsed for count, elapsed, _, _ in rounds)
    ordered = sorted(x for _, _, latencies, _ in rounds for x in latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99)] * 1000
    return rate, p50, p99, sum(f for *_, f in rounds)


def _timed_load(port: int, model: str) -> float:
    import httpx

    start = time.perf_counter()
    response = httpx.post(f"http://127.0.0.1:{port}/v2/repository/models/{model}/load", timeout=60)
    took = time.perf_counter() - start
    response.raise_for_status()
    return took


# The prediction check: the same requests, several rows each, both outputs.
CHECK_ROWS = np.random.default_rng(1).random((16, 4))
_FIELDS = {"FP64": "fp64_contents", "FP32": "fp32_contents", "INT64": "int64_contents"}
_DTYPES = {"FP64": np.float64, "FP32": np.float32, "INT64": np.int64, "INT32": np.int32}


def _answers_rest(port: int) -> list[dict[str, np.ndarray]]:
    import httpx

    answers = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        for i in range(0, len(CHECK_ROWS), 4):
            rows = CHECK_ROWS[i : i + 1 + i // 4]  # 1 to 4 rows
            body = {
                "inputs": [{"name": "X", "datatype": "FP64", "shape": list(rows.shape),
                            "data": rows.ravel().tolist()}],
                "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
            }  # fmt: skip
            response = client.post("/v2/models/logreg/infer", json=body)
            response.raise_for_status()
            answers.append(
                {
                    o["name"]: np.array(o["data"]).reshape(o["shape"])
                    for o in response.json()["outputs"]
                }
            )
    return answers


def _answers_grpc(port: int) -> list[dict[str, np.ndarray]]:
    import grpc
    import tritonclient.grpc.service_pb2 as pb
    import tritonclient.grpc.service_pb2_grpc as pb_grpc

    answers = []
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        for i in range(0, len(CHECK_ROWS), 4):
            rows = CHECK_ROWS[i : i + 1 + i // 4]
            request = pb.ModelInferRequest(model_name="logreg")
            tensor = request.inputs.add(name="X", datatype="FP64", shape=list(rows.shape))
            tensor.contents.fp64_contents.extend(rows.ravel().tolist())
            request.outputs.add(name="predict")
            request.outputs.add(name="predict_proba")
            response = stub.ModelInfer(request, timeout=30)
            answer = {}
            for j, out in enumerate(response.outputs):
                if response.raw_output_contents:
                    values = np.frombuffer(response.raw_output_contents[j], _DTYPES[out.datatype])
                else:
                    field = _FIELDS.get(out.datatype, "int_contents")
                    values = np.array(getattr(out.contents, field))
                answer[out.name] = values.reshape(list(out.shape))
            answers.append(answer)
    return answers


def _answers(port: int, grpc_port: int) -> dict[str, list[dict[str, np.ndarray]]]:
    return {"REST": _answers_rest(port), "gRPC": _answers_grpc(grpc_port)}


def _same(
    ours: dict[str, list[dict[str, np.ndarray]]], theirs: dict[str, list[dict[str, np.ndarray]]]
) -> tuple[bool, int, float]:
    """Whether every answer matches (the same labels for the same rows, probabilities
    within 1e-9); how many were compared; the largest probability difference."""
    same, count, worst = True, 0, 0.0
    for kind, answers in ours.items():
        for a, b in zip(answers, theirs[kind], strict=True):
            count += 1
            same &= set(a) == set(b) == {"predict", "predict_proba"}
            # MLServer sends a vector of labels as shape [n, 1], headwater serve as [n]
            # (scikit-learn's own shape): the labels, row by row, are what must agree.
            labels = a["predict"].astype(np.int64), b["predict"].astype(np.int64)
            same &= len(labels[0]) == len(labels[1])
            same &= bool(np.array_equal(labels[0].ravel(), labels[1].ravel()))
            if a["predict_proba"].shape != b["predict_proba"].shape:
                same = False
                continue
            diff = float(np.max(np.abs(a["predict_proba"] - b["predict_proba"])))
            worst = max(worst, diff)
            same &= diff <= 1e-9
    return same, count, worst


def _mlserver_version() -> str:
    found = sorted(
        mlserver_peer.MLSERVER.parent.parent.glob("lib/python*/site-packages/mlserver-*.dist-info")
    )
    return found[0].name.split("-")[1].removesuffix(".dist") if found else "?"


def _measure(
    servers: dict[str, tuple[int, int]], seconds: float
) -> dict[str, dict[str, tuple[float, float, float, int]]]:
    """Each server (name: REST port, gRPC port) over REST and over gRPC, in
    :data:`ROUNDS` rounds that take turns (the machine's other load falls on all alike)."""
    rounds: dict[tuple[str, str], list[tuple[int, float, list[float], int]]] = {}
    for _ in range(ROUNDS):
        for kind, label in (("rest", "REST"), ("grpc", "gRPC")):
            for name, (port, grpc_port) in servers.items():
                found = asyncio.run(
                    _load(kind, port if kind == "rest" else grpc_port, seconds / ROUNDS)
                )
                rounds.setdefault((name, label), []).append(found)
    result: dict[str, dict[str, tuple[float, float, float, int]]] = {}
    for (name, label), found in rounds.items():
        result.setdefault(name, {})[label] = _summary(found)
    return result


def _figures(rate: float, p50: float, p99: float) -> str:
    return f"{rate:,.0f} req/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms"


def _comparison(
    ours: dict[str, tuple[float, float, float, int]],
    theirs: dict[str, tuple[float, float, float, int]] | None,
    why_not: str,
    version: str,
    seconds: float,
) -> list[Row]:
    rows = []
    setting = (
        f"{seconds:.0f} s in {ROUNDS} rounds taking turns with the other servers', each after 1 s "
        f"warm-up; {os.cpu_count()} cores shared with the clients"
    )
    for label in ("REST", "gRPC"):
        rate, p50, p99, failures = ours[label]
        workload = f"LogisticRegression, 1 row, {label}, {CLIENTS} clients, 1 worker"
        target = "throughput >= MLServer's" + ("; p99 <= MLServer's" if label == "REST" else "")
        if theirs is None:
            verdict, note = "-", f"MLServer not measured: {why_not}"
        else:
            m_rate, _, m_p99, m_failures = theirs[label]
            met = rate >= m_rate and (label != "REST" or p99 <= m_p99)
            verdict = "yes" if met else "MISSED"
            note = f"{rate / m_rate:.2f}x MLServer's throughput; {setting}"
            if m_failures:
                note += f"; MLServer: {m_failures} FAILED"
        if failures:
            verdict = f"{failures} FAILED"
        rows.append(Row(f"{workload}: headwater serve", _figures(rate, p50, p99), target,
                        verdict, note))  # fmt: skip
        if theirs is not None:
            m_rate, m_p50, m_p99, _ = theirs[label]
            rows.append(Row(f"{workload}: MLServer {version}", _figures(m_rate, m_p50, m_p99),
                            "reference", "-", "same clients, same joblib file, "
                            "parallel_workers 1"))  # fmt: skip
    return rows


def _mean_batch(port: int) -> float:
    """Requests per batch, as the server's own metrics count them."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    found = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("headwater_serving_batch_size_")
    }
    return found["headwater_serving_batch_size_sum"] / found["headwater_serving_batch_size_count"]


def _batching_rows(
    plain: dict[str, tuple[float, float, float, int]],
    batched: dict[str, tuple[float, float, float, int]],
    mean_batch: float,
    seconds: float,
) -> list[Row]:
    rows = []
    for label in ("REST", "gRPC"):
        rate, p50, p99, failures = batched[label]
        rows.append(
            Row(
                f"LogisticRegression, 1 row, {label}, {CLIENTS} clients, 1 worker: headwater "
                f"serve {' '.join(BATCHING)}",
                _figures(rate, p50, p99),
                "- (batching is off by default)",
                f"{failures} FAILED" if failures else "-",
                f"{rate / plain[label][0]:.2f}x the throughput without batching; "
                f"{mean_batch:.1f} requests per batch on average (its /metrics)",
            )
        )
    return rows


def run(seconds: float = SECONDS) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="hw-bench-serving-") as folder:
        home = Path(folder)
        env = {**os.environ, "HEADWATER_HOME": str(home)}
        size = int(
            subprocess.run(
                [sys.executable, "-c", REGISTER], env=env, capture_output=True, text=True,
                check=True,
            ).stdout.split()[-1]
        )  # fmt: skip
        # The servers run side by side (idle while another is measured): headwater serve,
        # the same with adaptive batching, MLServer.
        proc, port, grpc_port, _ = _start(home, "logreg")
        batched, b_port, b_grpc_port, _ = _start(home, "logreg", *BATCHING)
        theirs = their_answers = None
        why_not = mlserver_peer.available() or ""
        try:
            our_answers = _answers(port, grpc_port)
            batched_answers = _answers(b_port, b_grpc_port)
            servers = {"headwater": (port, grpc_port), "batched": (b_port, b_grpc_port)}
            if why_not:
                measured = _measure(servers, seconds)
            else:
                with mlserver_peer.mlserver(home / "logreg.joblib", name="logreg") as m:
                    their_answers = _answers(m.http_port, m.grpc_port)
                    measured = _measure(
                        {**servers, "mlserver": (m.http_port, m.grpc_port)}, seconds
                    )
                theirs = measured["mlserver"]
            mean_batch = _mean_batch(b_port)
        finally:
            _stop(proc)
            _stop(batched)
        ours = measured["headwater"]
        version = _mlserver_version()
        rows += _comparison(ours, theirs, why_not, version, seconds)
        rows += _batching_rows(ours, measured["batched"], mean_batch, seconds)
        same, count, worst = _same(our_answers, batched_answers)
        rows.append(
            Row(
                "batched answers equal unbatched ones (headwater serve)",
                f"{count} requests of 1-4 rows, REST and gRPC; largest probability "
                f"difference {worst:.1e}",
                "labels equal, probabilities within 1e-9",
                "yes" if same else "DIFFERENT",
                f"headwater serve {' '.join(BATCHING)}",
            )
        )
        if their_answers is not None:
            same, count, worst = _same(our_answers, their_answers)
            rows.append(
                Row(
                    "the same requests get the same predictions (headwater serve, MLServer)",
                    f"{count} requests of 1-4 rows, REST and gRPC; largest probability "
                    f"difference {worst:.1e}",
                    "labels equal, probabilities within 1e-9",
                    "yes" if same else "DIFFERENT",
                    "outputs predict and predict_proba; MLServer shapes the labels (n, 1), "
                    "headwater serve (n,) as scikit-learn does",
                )
            )
        proc, port, _, started = _start(home, "logreg")
        try:
            took = _timed_load(port, "big")
        finally:
            _stop(proc)
        rows.append(
            Row(
                f"model load, registry -> ready ({size / 1e6:.1f} MB scikit-learn forest)",
                f"{took:.2f} s",
                f"<= {LOAD_TARGET:.0f} s",
                "yes" if took <= LOAD_TARGET else "MISSED",
                "POST /v2/repository/models/big/load on a running server, until it answers; "
                f"headwater serve's own start (to its ready line) took {started:.1f} s",
            )
        )
    return rows


if __name__ == "__main__":
    from _table import show

    show(
        "Serving (Open Inference Protocol V2)", run(float(sys.argv[1]) if sys.argv[1:] else SECONDS)
    )
