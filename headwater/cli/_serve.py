"""``headwater serve``: registered models over the Open Inference Protocol (V2)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from headwater.cli._app import app, err, out
from headwater.errors import HeadwaterError

if TYPE_CHECKING:
    from headwater.serving import Bound


def _requirements() -> None:
    from importlib.util import find_spec

    for module in ("grpc", "numpy", "google.protobuf"):
        if find_spec(module.split(".")[0]) is None:
            raise HeadwaterError(
                f"headwater serve needs {module}, which is not installed",
                hint="pip install 'headwater[serving]'",
            )


@app.command()
def serve(
    models: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="MODEL[@ALIAS|:VERSION]...",
            help="Registered models to serve: NAME (its newest version), NAME@ALIAS or "
            "NAME:VERSION. None: load them later over the repository API.",
            show_default=False,
        ),
    ] = None,
    port: Annotated[int, typer.Option("--port", help="The REST port (0: any free port).")] = 8000,
    grpc_port: Annotated[
        int, typer.Option("--grpc-port", help="The gRPC port (0: any free port).")
    ] = 8001,
    host: Annotated[
        str,
        typer.Option("--host", help="The address to listen on (0.0.0.0: every interface)."),
    ] = "127.0.0.1",
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Worker processes per model version.")
    ] = 1,
    deployment: Annotated[
        list[str] | None,
        typer.Option(
            "--deployment",
            "-d",
            metavar="NAME",
            help="A deployment to serve by name (repeatable): its main, canary and shadow "
            "versions, following its aliases (see 'headwater deployments').",
        ),
    ] = None,
    max_request_mb: Annotated[
        int,
        typer.Option(
            "--max-request-mb", min=1, help="The largest request body or gRPC message taken."
        ),
    ] = 64,
    max_batch_size: Annotated[
        int,
        typer.Option(
            "--max-batch-size",
            help="Adaptive batching: gather up to N requests per model into one prediction "
            "(1: off). Only for models whose rows are independent.",
        ),
    ] = 1,
    max_batch_wait_ms: Annotated[
        float,
        typer.Option(
            "--max-batch-wait-ms",
            help="Adaptive batching: the longest a request waits for others to join it.",
        ),
    ] = 5.0,
    access_log_sample: Annotated[
        float,
        typer.Option(
            "--access-log-sample",
            help="The fraction of requests logged to stderr, one line each (0: none).",
        ),
    ] = 0.0,
    request_timeout: Annotated[
        str,
        typer.Option(
            "--request-timeout",
            metavar="SECONDS",
            help="A request its model has not answered within SECONDS gets a 504 (gRPC "
            "DEADLINE_EXCEEDED), and the model's worker is killed and started again.",
        ),
    ] = "60",
    worker_memory_mb: Annotated[
        str | None,
        typer.Option(
            "--worker-memory-mb",
            metavar="MIB",
            help="The private memory each model worker may hold (RLIMIT_DATA); past it the "
            "model gets MemoryError and the request a 500. Default: no limit.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve registered models over the Open Inference Protocol (V2), REST and gRPC.

    Each model version runs in worker processes of its own: one that crashes is
    restarted and the others keep answering. Prometheus metrics: GET /metrics on the
    REST port. Ctrl-C (or SIGTERM) stops the server
    after the requests in progress are answered.
    """
    _requirements()
    from headwater.serving import ServeOptions, parse_model_ref
    from headwater.serving import serve as run_server

    refs = models or []
    limits = ServeOptions.parse_limits(request_timeout, worker_memory_mb)
    for ref in refs:
        parse_model_ref(ref)  # a malformed reference is refused before anything starts
    options = ServeOptions(
        host,
        port,
        grpc_port,
        workers,
        max_request_mb << 20,
        max_batch_size,
        max_batch_wait_ms,
        access_log_sample,
        limits.request_timeout,
        limits.memory_mb,
    )
    options.check()
    from headwater.engine import Workspace

    ws = Workspace.open()
    try:
        run_server(ws, refs, options, _ready, deployments=deployment or [])
    finally:
        ws.close()
    err.print("headwater serve stopped")


def _ready(bound: Bound) -> None:
    for served in bound.models:
        batching = served.batching
        batches = (
            f", batches of up to {batching.max_size} within {batching.max_wait_ms:g} ms"
            if batching.on
            else ""
        )
        meta = served.metadata
        platform = meta.platform if meta is not None else "?"
        out.print(
            f"serving model '{escape(served.name)}' version {served.version} ({platform}, "
            f"{len(served.workers)} worker{'s' if len(served.workers) != 1 else ''}"
            f"{batches}) "
            f"as {escape(served.ref)}",
            soft_wrap=True,
            highlight=False,
        )
    for route in bound.deployments:
        parts = [f"{route.main.label}"]
        if route.canary is not None:
            parts.append(f"canary {route.canary.label} ({route.percent:g}%)")
        if route.shadow is not None:
            parts.append(f"shadow {route.shadow.label}")
        out.print(
            f"serving deployment '{escape(route.name)}': {escape(', '.join(parts))}",
            soft_wrap=True,
            highlight=False,
        )
    host = f"[{bound.host}]" if ":" in bound.host else bound.host
    out.print(
        f"Open Inference Protocol V2: REST http://{host}:{bound.port}/v2, gRPC "
        f"{host}:{bound.grpc_port} (Ctrl-C to stop)",
        soft_wrap=True,
        highlight=False,
    )
    sys.stdout.flush()  # a supervisor or a test reading the pipe waits for this line
