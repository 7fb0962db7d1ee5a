"""Serving benchmark (issue 15): a scikit-learn LogisticRegression behind ``headwater
serve`` (one worker), 1 row per request from 8 concurrent clients, over REST and gRPC:
throughput and latency percentiles; and the time from the registry to ready.

The clients are as light as a client can be, so that the server's cost is what is
measured (they share the machine's cores with it): REST requests are prebuilt bytes on
8 keep-alive connections, read back by Content-Length; gRPC requests are prebuilt
messages sent on one channel by 8 concurrent callers, the answers left as bytes. Every
answer is checked for status 200 (REST) or OK (gRPC).

The issue's reference is MLServer with the same model and worker count, measured in
the same run; that comparison comes with the next serving slice (MLServer in its own
virtual environment). ``python bench/bench_serving.py [SECONDS]`` runs this alone.
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

from _table import Row

CLIENTS = 8
SECONDS = 10.0
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


def _start(home: Path, model: str) -> tuple[subprocess.Popen[str], int, int, float]:
    env = {**os.environ, "HEADWATER_HOME": str(home)}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from headwater.cli import run; run()", "serve", model,
         "--port", "0", "--grpc-port", "0"],
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


async def _load(kind: str, port: int, seconds: float) -> tuple[float, float, float, int]:
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
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99)] * 1000
    return len(ordered) / elapsed, p50, p99, failures


def _timed_load(port: int, model: str) -> float:
    import httpx

    start = time.perf_counter()
    response = httpx.post(f"http://127.0.0.1:{port}/v2/repository/models/{model}/load", timeout=60)
    took = time.perf_counter() - start
    response.raise_for_status()
    return took


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
        proc, port, grpc_port, _ = _start(home, "logreg")
        try:
            for kind, label, target in (
                ("rest", "REST", "throughput >= MLServer's; p99 <= MLServer's"),
                ("grpc", "gRPC", "throughput >= MLServer's"),
            ):
                rate, p50, p99, failures = asyncio.run(
                    _load(kind, port if kind == "rest" else grpc_port, seconds)
                )
                rows.append(
                    Row(
                        f"LogisticRegression, 1 row, {label}, {CLIENTS} clients, 1 worker",
                        f"{rate:,.0f} req/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms",
                        target,
                        "MLServer: next slice" if not failures else f"{failures} FAILED",
                        f"{seconds:.0f} s after 1 s warm-up; {os.cpu_count()} cores shared "
                        "with the clients",
                    )
                )
        finally:
            _stop(proc)
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
                "ok" if took <= LOAD_TARGET else "MISSED",
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
