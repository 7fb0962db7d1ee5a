"""Rollout benchmark (issue 15): an alias move under steady load. A scikit-learn
LogisticRegression deployment (``web`` following ``iris@champion``) behind ``headwater
serve --deployment web`` gets 200 requests/s (paced, 1 row each, REST, 8 keep-alive
client threads); after a steady period the alias moves to version 2. Reports failed
requests, steady p99, p99 over the swap window (from the move until 2 s after the first
answer of the new version), and how long the swap took.

``python bench/bench_rollout.py [STEADY_SECONDS] [--promote]`` runs it alone (``--promote``:
a canary at 0 % is promoted instead, nothing to load).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

RATE = 200
THREADS = 8
READY = re.compile(r"REST http://([\d.]+):(\d+)/v2")


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] * 1000 if len(values) > 100 else float("nan")


def main(steady: float = 5.0, promote: bool = False) -> dict[str, float]:
    """``promote``: version 2 is a canary at 0 % and gets promoted (loaded already), to
    tell the cost of loading a version from the cost of moving traffic."""
    import joblib
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from headwater._config import Settings
    from headwater.engine import Workspace
    from headwater.registry import register_artifact
    from headwater.store import NewArtifact

    root = Path(tempfile.mkdtemp(prefix="bench-rollout-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update({"HEADWATER_HOME": str(root / "home"), "NO_COLOR": "1"})
    ws = Workspace.open(Settings.from_env(env))
    rng = np.random.default_rng(0)
    x = rng.random((200, 4))
    y = (x[:, 0] > 0.5).astype(int)
    for version, c in ((1, 0.1), (2, 1.0)):
        path = root / f"iris-{version}.joblib"
        joblib.dump(LogisticRegression(C=c).fit(x, y), path)
        art = ws.store.lineage.add_artifact(
            NewArtifact("iris", "headwater.Model", str(path), None, None)
        )
        register_artifact(ws.store, "iris", art.id, aliases=("champion",) if version == 1 else ())
    if promote:
        ws.store.deployments.create("web", "iris@champion", canary="iris:2", canary_percent=0)
    else:
        ws.store.deployments.create("web", "iris@champion")
    command = [sys.executable, "-c", "from headwater.cli import run; run()", "serve"]
    server = subprocess.Popen(
        [*command, "--deployment", "web", "--port", "0", "--grpc-port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert server.stdout is not None
    for line in server.stdout:
        found = READY.search(line)
        if found:
            host, port = found[1], int(found[2])
            break
    body = json.dumps(
        {"inputs": [{"name": "X", "datatype": "FP64", "shape": [1, 4], "data": x[0].tolist()}]}
    ).encode()
    results: list[tuple[float, float, str, bool]] = []  # sent at, latency, version, ok
    stop = threading.Event()
    start = time.monotonic()

    def client(offset: int) -> None:
        conn = http.client.HTTPConnection(host, port)
        n = offset
        while not stop.is_set():
            due = start + n / RATE
            n += THREADS
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            sent = time.monotonic()
            try:
                conn.request("POST", "/v2/models/web/infer", body)
                answer = conn.getresponse()
                data = answer.read()
                ok = answer.status == 200
                version = json.loads(data)["model_version"] if ok else ""
            except (OSError, http.client.HTTPException):
                ok, version = False, ""
                conn = http.client.HTTPConnection(host, port)
            results.append((sent, time.monotonic() - sent, version, ok))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    time.sleep(steady)
    moved = time.monotonic()
    if promote:
        ws.store.deployments.promote("web")
    else:
        ws.store.models.set_alias("iris", "champion", 2)
    while not any(v == "2" for s, _, v, _ in list(results) if s >= moved):
        time.sleep(0.01)
    switched = min(s for s, _, v, _ in list(results) if v == "2")
    time.sleep(2.0)
    stop.set()
    for t in threads:
        t.join()
    server.terminate()
    server.wait(30)
    ws.close()
    warm = [lat for s, lat, _, ok in results if ok and start + 1 <= s < moved]
    window = [lat for s, lat, _, ok in results if ok and moved <= s <= switched + 2]
    figures = {
        "requests": len(results),
        "failed": sum(1 for r in results if not r[3]),
        "steady_p99_ms": _p99(warm),
        "swap_p99_ms": _p99(window),
        "swap_seconds": switched - moved,
        "rate": len(results) / (time.monotonic() - start),
    }
    return figures


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--promote"]
    found = main(float(args[0]) if args else 5.0, promote="--promote" in sys.argv)
    for key, value in found.items():
        print(f"{key:16} {value:.2f}" if isinstance(value, float) else f"{key:16} {value}")
