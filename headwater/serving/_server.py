"""``headwater serve``'s process: the front (REST and gRPC in one asyncio event loop) and
the model workers it supervises.

Start-up order: both ports are bound first (a port in use is an error before any model
loads), then every model is loaded, then requests are accepted; SIGINT or SIGTERM stops
accepting, lets the requests in progress finish (up to :data:`SHUTDOWN_GRACE` seconds)
and stops the workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.errors import ConfigurationError, ServingError
from headwater.serving._batching import DEFAULT_WAIT_MS, Batching
from headwater.serving._limits import DEFAULT_REQUEST_TIMEOUT, Limits, megabytes, seconds
from headwater.serving._metrics import Metrics
from headwater.serving._repository import Registry
from headwater.serving._served import ServedVersion

if TYPE_CHECKING:
    from headwater.serving._deployments import Route

if TYPE_CHECKING:
    from headwater.engine import Workspace

SHUTDOWN_GRACE = 5.0
DEFAULT_MAX_REQUEST_MB = 64


@dataclass(frozen=True)
class ServeOptions:
    """Where and how ``headwater serve`` serves; port 0: any free port."""

    host: str = "127.0.0.1"
    port: int = 8000
    grpc_port: int = 8001
    workers: int = 1
    max_request_bytes: int = DEFAULT_MAX_REQUEST_MB << 20
    #: Adaptive batching of the models named at start-up (1: off).
    max_batch_size: int = 1
    max_batch_wait_ms: float = DEFAULT_WAIT_MS
    #: The fraction of requests written to the access log (0: none).
    access_log_sample: float = 0.0
    #: Seconds a worker may take to answer a request (None: no limit), and MiB of
    #: memory each worker may hold (None: no limit); see ``_limits``.
    request_timeout: float | None = DEFAULT_REQUEST_TIMEOUT
    worker_memory_mb: int | None = None

    @property
    def limits(self) -> Limits:
        return Limits(self.request_timeout, self.worker_memory_mb)

    @staticmethod
    def parse_limits(request_timeout: str, worker_memory_mb: str | None) -> Limits:
        """``--request-timeout`` and ``--worker-memory-mb`` as typed, or a clear
        :class:`ConfigurationError`."""
        try:
            return Limits(
                seconds(request_timeout, "--request-timeout"),
                None
                if worker_memory_mb is None
                else megabytes(worker_memory_mb, "--worker-memory-mb"),
            )
        except ServingError as e:
            raise ConfigurationError(e.message, hint=e.hint) from None

    @property
    def batching(self) -> Batching:
        return Batching(self.max_batch_size, self.max_batch_wait_ms)

    def check(self) -> None:
        for flag, port in (("--port", self.port), ("--grpc-port", self.grpc_port)):
            if not 0 <= port <= 65535:
                raise ConfigurationError(f"{flag} {port} is not a port", hint="use 0 to 65535")
        if self.port == self.grpc_port and self.port != 0:
            raise ConfigurationError(
                f"--port and --grpc-port are both {self.port}",
                hint="give REST and gRPC a port each",
            )
        if self.workers < 1:
            raise ConfigurationError(f"--workers {self.workers}: at least 1 worker per model")
        if self.max_request_bytes < 1024:
            raise ConfigurationError("the request size limit must be at least 1 KiB")
        try:
            self.batching.check()
        except ServingError as e:
            raise ConfigurationError(
                e.message.replace("max_batch_size", "--max-batch-size").replace(
                    "max_batch_wait_ms", "--max-batch-wait-ms"
                ),
                hint=e.hint,
            ) from None
        try:
            if self.request_timeout is not None:
                seconds(self.request_timeout, "--request-timeout")
            if self.worker_memory_mb is not None:
                megabytes(self.worker_memory_mb, "--worker-memory-mb")
        except ServingError as e:
            raise ConfigurationError(e.message, hint=e.hint) from None
        if not 0.0 <= self.access_log_sample <= 1.0:
            raise ConfigurationError(
                f"--access-log-sample {self.access_log_sample} is not a fraction",
                hint="use 0 (no access log) to 1 (every request), e.g. 0.01",
            )


@dataclass(frozen=True)
class Bound:
    """Where a started server listens, and what it serves."""

    host: str
    port: int
    grpc_port: int
    models: tuple[ServedVersion, ...]
    deployments: tuple[Route, ...] = ()


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise ConfigurationError(f"--host {host!r} is not an address of this machine: {e}") from e
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        raise ConfigurationError(
            f"cannot listen on {host}:{port} for REST: {e.strerror or e}",
            hint="pick another --port (0: any free port), or stop what uses it",
        ) from e
    sock.set_inheritable(False)
    return sock


def _grpc_server(options: ServeOptions) -> tuple[Any, int]:
    import grpc

    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", options.max_request_bytes),
            ("grpc.max_send_message_length", -1),
            # Without this a second server on the same port would share it silently.
            ("grpc.so_reuseport", 0),
        ]
    )
    host = f"[{options.host}]" if ":" in options.host else options.host
    try:
        port = server.add_insecure_port(f"{host}:{options.grpc_port}")
    except RuntimeError as e:
        port, cause = 0, str(e)
    else:
        cause = "the address is in use or not of this machine"
    if not port:
        raise ConfigurationError(
            f"cannot listen on {options.host}:{options.grpc_port} for gRPC: {cause}",
            hint="pick another --grpc-port (0: any free port), or stop what uses it",
        )
    return server, port


def _uvicorn(app: Any, sock: socket.socket) -> Any:
    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # the front handles SIGINT and SIGTERM for REST and gRPC together

    try:
        import httptools  # noqa: F401 - uvicorn's fast HTTP parser, when installed

        http = "httptools"
    except ImportError:
        http = "h11"
    config = uvicorn.Config(
        app,
        http=http,
        lifespan="off",
        access_log=False,
        log_config=None,
        log_level="warning",
        server_header=False,
        timeout_graceful_shutdown=int(SHUTDOWN_GRACE),
    )
    return _Server(config)


async def serve_async(
    workspace: Workspace,
    refs: Sequence[str],
    options: ServeOptions,
    on_ready: Callable[[Bound], None] | None = None,
    stop: asyncio.Event | None = None,
    deployments: Sequence[str] = (),
) -> None:
    """Serve ``refs``, and ``deployments`` by name, until ``stop`` is set (or SIGINT or
    SIGTERM arrives)."""
    from headwater.serving._deployments import Deployments, RoutedRepository
    from headwater.serving._grpc import add_service
    from headwater.serving._rest import RestApp

    options.check()
    stop = stop or asyncio.Event()
    sock = _bind(options.host, options.port)
    grpc_server = None
    repository = RoutedRepository(
        Registry(workspace),
        options.workers,
        batching=options.batching,
        metrics=Metrics(options.access_log_sample),
        limits=options.limits,
    )
    routing = Deployments(repository, workspace.store)
    repository.deployments = routing
    watcher: asyncio.Task[None] | None = None
    loop = asyncio.get_running_loop()
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        grpc_server, grpc_port = _grpc_server(options)
        add_service(grpc_server, repository)
        names = list(dict.fromkeys(deployments))
        models = await repository.load_many(refs, warm=await routing.flavors(names))
        clash = sorted({m.name for m in models} & set(names))
        if clash:
            raise ServingError(
                400, f"'{clash[0]}' names both a served model and a deployment: rename one"
            )
        routes = await routing.add(names)
        if routes:
            watcher = loop.create_task(routing.watch())
        await grpc_server.start()
        http = _uvicorn(RestApp(repository, options.max_request_bytes), sock)
        task = loop.create_task(http.serve(sockets=[sock]))
        while not http.started and not task.done():
            await asyncio.sleep(0.01)
        if task.done():
            task.result()
            raise ServingError(500, "the REST server stopped as it started")
        if on_ready is not None:
            port = sock.getsockname()[1]
            on_ready(Bound(options.host, port, grpc_port, tuple(models), tuple(routes)))
        waiter = loop.create_task(stop.wait())
        await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        http.should_exit = True
        await grpc_server.stop(SHUTDOWN_GRACE)
        await task
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
        if grpc_server is not None:
            await grpc_server.stop(None)
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await routing.close()
        await repository.close()
        sock.close()


def serve(
    workspace: Workspace,
    refs: Sequence[str],
    options: ServeOptions,
    on_ready: Callable[[Bound], None] | None = None,
    deployments: Sequence[str] = (),
) -> None:
    """Serve ``refs`` (``NAME``, ``NAME@ALIAS``, ``NAME:VERSION``) from ``workspace``'s
    registry, and ``deployments`` by name, over the Open Inference Protocol until SIGINT
    or SIGTERM."""
    asyncio.run(serve_async(workspace, refs, options, on_ready, deployments=deployments))
