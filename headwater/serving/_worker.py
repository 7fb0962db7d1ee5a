"""A model worker: one process that loads one model version and answers its requests.

Started by the front (``_workers``) as ``python -m headwater.serving._worker FD`` with
one end of a Unix socket pair as file descriptor FD; the messages are ``_wire``'s. It
loads the model (the first message), says ``ready`` with the model's metadata, then
answers one request at a time until the front says stop or goes away (EOF: a front
killed with SIGKILL leaves no worker behind).

A memory limit (``_limits``) is set before the model is read; an allocation past it
raises MemoryError, answered with a 500 that names the limit.

SIGINT is ignored: Ctrl-C in a terminal reaches every process of the foreground group,
and the front, not the terminal, decides when a worker stops (after the requests it
holds are answered). A model that raises answers that request with a 500; a model that
crashes the process (a segfault, the kernel's OOM killer) is restarted by the front.
"""

from __future__ import annotations

import signal
import socket
import sys
import traceback
from typing import Any

from headwater.errors import ServingError
from headwater.serving._wire import Channel


def _describe(error: BaseException) -> str:
    if isinstance(error, ServingError):
        return error.message
    return f"{type(error).__name__}: {error}"


def _data_mb() -> int | None:
    """The private writable memory this process has mapped (VmData), in MiB; None where
    there is no /proc to tell."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmData:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def limit_memory(memory_mb: int) -> str | None:
    """Cap this process's private memory (RLIMIT_DATA, see ``_limits``) at ``memory_mb``
    MiB; what is wrong when it cannot be (the worker already holds more)."""
    import resource

    used = _data_mb()
    if used is not None and used >= memory_mb:
        return (
            f"its worker already holds {used} MiB before it reads the model, more than the "
            f"limit of {memory_mb} MiB (--worker-memory-mb, or the load parameter "
            f"worker_memory_mb): raise the limit well above {used} MiB"
        )
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit = memory_mb << 20
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    return None


def _out_of_memory(memory_mb: int | None) -> str:
    if memory_mb is None:
        return "it ran out of memory (MemoryError)"
    return (
        f"it ran out of memory: its worker may hold {memory_mb} MiB (--worker-memory-mb, or "
        "the load parameter worker_memory_mb); raise the limit"
    )


def serve_channel(channel: Channel) -> int:
    """Load the model the first message names (under the memory limit it gives) and
    answer until told to stop."""
    from headwater.serving._runtimes import load_runtime

    first = channel.receive()
    if first is None or first[0] != "load":
        return 2
    spec, memory_mb = first[1], first[2]
    if memory_mb is not None:
        problem = limit_memory(memory_mb)
        if problem is not None:
            channel.send(("failed", 400, f"{spec.label} could not be loaded: {problem}"))
            return 1
    try:
        runtime = load_runtime(spec)
    except BaseException as e:
        traceback.print_exc()
        status = e.status if isinstance(e, ServingError) else 500
        why = _out_of_memory(memory_mb) if isinstance(e, MemoryError) else _describe(e)
        channel.send(("failed", status, f"{spec.label} could not be loaded: {why}"))
        return 1
    channel.send(("ready", runtime.metadata))
    while True:
        message = channel.receive()
        if message is None or message[0] == "stop":
            return 0
        _, call, inputs, parameters, wanted = message
        reply: tuple[Any, ...]
        try:
            reply = ("ok", call, runtime.predict(inputs, parameters, wanted))
        except ServingError as e:
            reply = ("error", call, e.status, e.message)
        except MemoryError:
            traceback.print_exc()
            # The allocation was refused, not made: the worker answers on.
            reply = ("error", call, 500, f"{spec.label} failed: {_out_of_memory(memory_mb)}")
        except Exception as e:
            traceback.print_exc()
            reply = ("error", call, 500, f"{spec.label} failed: {_describe(e)}")
        try:
            channel.send(reply)
        except (TypeError, AttributeError, ValueError) as e:  # outputs that cannot be pickled
            channel.send(("error", call, 500, f"{spec.label} returned what cannot be sent: {e}"))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=int(args[0]))
    try:
        return serve_channel(Channel(sock))
    except (BrokenPipeError, ConnectionResetError):
        return 0  # the front went away
    finally:
        sock.close()


if __name__ == "__main__":
    sys.exit(main())
