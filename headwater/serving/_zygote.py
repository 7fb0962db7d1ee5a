"""The serving zygote: a warm process that forks model workers.

Importing scikit-learn, XGBoost or LightGBM takes seconds; unpickling a model takes
far less. The zygote imports them once (the libraries of the flavours the server was
started with), then forks one child per model worker: a worker is ready as soon as its
model is read, a crashed worker is back at once, and every worker shares the libraries'
pages with the zygote instead of holding a copy.

Started by the front (``_launch``) as ``python -m headwater.serving._zygote FD
MODULE...`` with FD one end of a ``SOCK_SEQPACKET`` socket pair (one message per
packet, each a pickled tuple)::

    zygote -> front   ("ready",)                  after the imports
    front -> zygote   ("fork", call) + a socket   (SCM_RIGHTS: the new worker's end)
    zygote -> front   ("forked", call, pid)
    zygote -> front   ("exited", pid, status)     a child ended (exit code, or -signal)

A forked child closes the zygote's socket and serves the worker protocol (``_worker``)
on the socket it was given. When the front goes away (EOF) the zygote exits; its
children see their own sockets close and exit too. When the zygote dies, its children
live on (a zygote's death must not take every model down); the front starts workers
without it from then on.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import pickle
import selectors
import signal
import socket
import sys
import traceback


def _status(raw: int) -> int:
    return -os.WTERMSIG(raw) if os.WIFSIGNALED(raw) else os.WEXITSTATUS(raw)


def _child(control: socket.socket, wakeup: tuple[int, int], fd: int) -> None:
    """In a forked child: drop the zygote's state, serve as a worker, never return."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        control.close()
        for end in wakeup:
            os.close(end)
        from headwater.serving._wire import Channel
        from headwater.serving._worker import serve_channel

        sock = socket.socket(fileno=fd)
        try:
            code = serve_channel(Channel(sock))
        except (BrokenPipeError, ConnectionResetError):
            code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _reap(control: socket.socket) -> None:
    while True:
        try:
            pid, raw = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        with contextlib.suppress(OSError):
            control.send(pickle.dumps(("exited", pid, _status(raw))))


def run(control: socket.socket, modules: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the front decides when workers stop
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as e:  # a library that fails to import fails its model's load
            print(f"headwater serve: zygote: {name} not preloaded: {e}", file=sys.stderr)
    import headwater.serving._runtimes
    import headwater.serving._worker  # noqa: F401

    gc.collect()
    gc.freeze()  # the children share these pages: no collection copies them
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ, "control")
    selector.register(wake_r, selectors.EVENT_READ, "wakeup")
    control.send(pickle.dumps(("ready",)))
    while True:
        for key, _ in selector.select():
            if key.data == "wakeup":
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 4096)
                _reap(control)
                continue
            try:
                data, fds, _, _ = socket.recv_fds(control, 4096, 1)
            except ConnectionResetError:
                data, fds = b"", []
            if not data:
                return 0
            message = pickle.loads(data)
            if message[0] != "fork" or len(fds) != 1:
                for fd in fds:
                    os.close(fd)
                continue
            pid = os.fork()
            if pid == 0:
                _child(control, (wake_r, wake_w), fds[0])
            os.close(fds[0])
            control.send(pickle.dumps(("forked", message[1], pid)))
        _reap(control)


def main() -> int:
    control = socket.socket(fileno=int(sys.argv[1]))
    try:
        return run(control, sys.argv[2:])
    except (BrokenPipeError, ConnectionResetError):
        return 0


if __name__ == "__main__":
    sys.exit(main())
