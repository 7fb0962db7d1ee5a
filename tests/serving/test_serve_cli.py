"""``headwater serve`` refuses what it cannot serve before it serves anything: a bad or
unknown model reference, a PyTorch state dict (its worker cannot load it), clashing or
busy ports, a request timeout or worker memory limit that is no number, or a memory limit
too small to load the model in; each a clear error and exit code 1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from serve_helpers import Models


def _serve(models: Models, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update({"HEADWATER_HOME": str(models.home), "NO_COLOR": "1", "COLUMNS": "250"})
    return subprocess.run(
        [sys.executable, "-c", "from headwater.cli import run; run()", "serve", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


REFUSED = [
    (("bad name!",), "model to serve 'bad name!' is not valid fix: write NAME"),
    (("iris:x",), "model to serve 'iris:x' names version 'x', which is not a whole number"),
    # Any free ports: the default ones may be taken by another test on this machine.
    (("nope", "--port", "0", "--grpc-port", "0"), "no registered model 'nope'"),
    (("--deployment", "nope", "--port", "0", "--grpc-port", "0"), "no deployment 'nope'"),
    (("net", "--port", "0", "--grpc-port", "0"), "model 'net' version 1 is a PyTorch file"),
    (("iris", "--port", "8123", "--grpc-port", "8123"), "--port and --grpc-port are both 8123"),
    (("iris", "--max-batch-size", "0"), "--max-batch-size 0 is out of range fix: use 1"),
    (("iris", "--access-log-sample", "2"), "--access-log-sample 2.0 is not a fraction"),
    (
        ("echo", "--max-batch-size", "4", "--port", "0", "--grpc-port", "0"),
        "model 'echo' version 1 cannot batch requests",
    ),
    (("iris", "--request-timeout", "0"), "--request-timeout '0' must be more than 0 seconds"),
    (("iris", "--request-timeout", "-3"), "--request-timeout '-3' must be more than 0 seconds"),
    (("iris", "--request-timeout", "soon"), "--request-timeout 'soon' is not a number"),
    (("iris", "--worker-memory-mb", "0"), "--worker-memory-mb '0' must be at least 1 MiB"),
    (("iris", "--worker-memory-mb", "lots"), "--worker-memory-mb 'lots' is not a whole number"),
    (
        ("iris", "--worker-memory-mb", "20", "--port", "0", "--grpc-port", "0"),
        "model 'iris' version 2 could not be loaded: its worker already holds",
    ),
]


def test_what_cannot_be_served_is_refused(models: Models) -> None:
    # Side by side: each is a command's start-up, most of it imports.
    with ThreadPoolExecutor(len(REFUSED)) as pool:
        done = list(pool.map(lambda case: _serve(models, *case[0]), REFUSED))
    for (args, message), result in zip(REFUSED, done, strict=True):
        said = " ".join(result.stderr.split())
        assert result.returncode == 1, (args, result.stdout, said)
        assert message in said, (args, said)
        assert "Open Inference Protocol V2: REST" not in result.stdout


def test_a_port_in_use_is_refused_before_any_model_loads(models: Models) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _serve(models, "iris", "--port", str(port), "--grpc-port", "0")
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port} for REST" in " ".join(done.stderr.split())


def test_a_model_worker_imports_nothing_of_the_front() -> None:
    """Workers (and the zygote they are forked from) stay small: no store, no servers."""
    code = (
        "import sys, headwater.serving._worker, headwater.serving._runtimes, "
        "headwater.serving._zygote; "
        "print(sorted(m for m in ('sqlalchemy', 'grpc', 'uvicorn', 'fastapi', 'headwater.store',"
        " 'headwater.registry', 'sklearn') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
