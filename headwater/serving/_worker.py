"""A model worker: one process that loads one model version and answers its requests.

Started by the front (``_workers``) as ``python -m headwater.serving._worker FD`` with
one end of a Unix socket pair as file descriptor FD; the messages are ``_wire``'s. It
loads the model (the first message), says ``ready`` with the model's metadata, then
answers one request at a time until the front says stop or goes away (EOF: a front
killed with SIGKILL leaves no worker behind).

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


def serve_channel(channel: Channel) -> int:
    """Load the model the first message names and answer until told to stop."""
    from headwater.serving._runtimes import load_runtime

    first = channel.receive()
    if first is None or first[0] != "load":
        return 2
    spec = first[1]
    try:
        runtime = load_runtime(spec)
    except BaseException as e:
        traceback.print_exc()
        status = e.status if isinstance(e, ServingError) else 500
        channel.send(("failed", status, f"{spec.label} could not be loaded: {_describe(e)}"))
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
