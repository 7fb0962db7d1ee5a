"""The ML example's last step: register the model the newest run accepted, serve it, and
ask it for one prediction with ``curl``; then stop the server.

    python examples/serve_model.py [MODEL_NAME]

It runs, and prints before running, the commands a person would type (``make demo``
ends with it; docs/serving.md shows them)::

    headwater models register ARTIFACT --name classifier --alias champion
    headwater serve classifier@champion --port 0 --grpc-port 0     (port 0: any free port)
    curl -s http://127.0.0.1:PORT/v2/models/classifier               (what it takes)
    curl -s -X POST http://127.0.0.1:PORT/v2/models/classifier/infer -d '{"inputs": ...}'

The row sent is the first row of the run's test set. A model already registered (a
second ``make demo``, whose runs are cache hits of the first) is not registered again.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from headwater.engine import Workspace

HEADWATER = str(Path(sys.executable).with_name("headwater"))
READY = re.compile(r"REST http://([\d.]+):(\d+)/v2")
ALIAS = "champion"


def show(args: list[str]) -> None:
    shown = ["headwater", *args[1:]] if args[0] == HEADWATER else args
    print(f"$ {shlex.join(shown)}", flush=True)


def command(args: list[str]) -> str:
    show(args)
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"{args[0]} failed ({done.returncode}): {done.stdout}{done.stderr}")
    return done.stdout


def curl(url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    args = ["curl", "-s", "--fail-with-body"]
    if body is not None:
        args += ["-X", "POST", "-H", "Content-Type: application/json", "-d", json.dumps(body)]
    args.append(url)
    if shutil.which("curl") is None:  # the same request without curl
        import httpx

        show(args)
        print("  (curl is not installed: sent with httpx)")
        response = httpx.request("POST" if body else "GET", url, json=body, timeout=30)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
    else:
        answer = json.loads(command(args))
    print(json.dumps(answer))
    return answer


def newest(ws: Workspace) -> tuple[Any, list[float]] | None:
    """The newest run's registered model artifact and the first row of its test set."""
    import pandas as pd

    runs = ws.store.runs.list_runs(pipeline="ml_pipeline", limit=1)
    if not runs:
        return None
    model = test_set = None
    for artifact, task, name in ws.store.lineage.run_artifacts(runs[0].id):
        if task is not None and (task.path, name) == ("register", "registered"):
            model = artifact
        if task is not None and (task.path, name) == ("compute_features", "test_set"):
            test_set = artifact
    if model is None or test_set is None:
        return None
    row = pd.read_parquet(test_set.uri).drop(columns=["label"]).iloc[0]
    return model, [float(v) for v in row]


def serve(ref: str, log: Path) -> tuple[subprocess.Popen[str], int]:
    args = [HEADWATER, "serve", ref, "--port", "0", "--grpc-port", "0"]
    show(args)
    with log.open("w") as errors:
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=errors, text=True)
    found: list[int] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            print(f"  {line.rstrip()}", flush=True)
            match = READY.search(line)
            if match:
                found.append(int(match[2]))
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(120)
    if not found:
        process.kill()
        raise SystemExit(f"headwater serve did not start:\n{log.read_text()}")
    return process, found[0]


def main() -> int:
    name = sys.argv[1] if len(sys.argv) > 1 else "classifier"
    ws = Workspace.open()
    try:
        found = newest(ws)
        registered = ws.store.models.versions_of_artifact(found[0].id) if found else []
    finally:
        ws.close()
    if found is None:
        print("no registered model to serve: run 'headwater run examples/ml_pipeline.py'")
        return 1
    model, row = found
    mine = [v for v in registered if v.model == name]
    if mine:
        print(f"model artifact {model.id} is already {name} version {mine[0].version}")
    else:
        command([HEADWATER, "models", "register", model.id, "--name", name, "--alias", ALIAS])
    with tempfile.TemporaryDirectory(prefix="headwater-serve-") as folder:
        process, port = serve(f"{name}@{ALIAS}", Path(folder) / "serve.log")
        try:
            url = f"http://127.0.0.1:{port}/v2/models/{name}"
            metadata = curl(url)
            [tensor] = metadata["inputs"]
            answer = curl(
                f"{url}/infer",
                {
                    "id": "demo-1",
                    "inputs": [
                        {
                            "name": tensor["name"],
                            "datatype": tensor["datatype"],
                            "shape": [1, len(row)],
                            "data": row,
                        }
                    ],
                },
            )
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
    outputs = {o["name"]: o["data"] for o in answer["outputs"]}
    print(
        f"{name}@{ALIAS} (version {answer['model_version']}) predicts class "
        f"{outputs['predict'][0]} for the test set's first row; the server is stopped"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
