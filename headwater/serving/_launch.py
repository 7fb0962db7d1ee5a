"""How the front starts model worker processes: forked from the serving zygote
(``_zygote``), or, where there is none (it failed to start, or died), as a fresh
interpreter (``python -m headwater.serving._worker``).

Either way a worker gets one end of a Unix socket pair and is known to the front by a
:class:`WorkerProcess`: its pid, its exit status once known, and a way to kill it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import pickle
import signal
import socket
import subprocess
import sys
from typing import Any, Protocol

from headwater.errors import ServingError

#: The libraries each flavour's runtime imports, preloaded by the zygote.
PRELOADS = {
    "sklearn": ["joblib", "sklearn.base"],
    "xgboost": ["xgboost"],
    "lightgbm": ["lightgbm"],
    "onnx": ["onnxruntime"],
    "python": ["joblib"],
}
ZYGOTE_START_TIMEOUT = 120.0
#: Math libraries use one thread per worker unless the environment says otherwise: the
#: server scales with processes, and many threads per process fight over the same cores.
_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _log_fd() -> int | None:
    """Where workers write what they print: the server's stderr (its stdout carries only
    the server's own lines, which a supervisor may be reading)."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def worker_environment() -> dict[str, str]:
    env = dict(os.environ)
    for name in _THREADS:
        env.setdefault(name, "1")
    return env


class WorkerProcess(Protocol):
    pid: int

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int | None:
        """Its exit status (exit code, or minus the signal), None when nobody can tell."""
        ...

    def kill(self) -> None: ...


class Launcher(Protocol):
    async def start(self, sock: socket.socket) -> WorkerProcess:
        """Start a worker that serves on ``sock`` (the caller closes its copy)."""
        ...


class Spawner:
    """Workers as fresh interpreters."""

    async def start(self, sock: socket.socket) -> WorkerProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "headwater.serving._worker",
            str(sock.fileno()),
            pass_fds=(sock.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=_log_fd(),
            env=worker_environment(),
        )
        return process


def _exists(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


class _Forked:
    """A worker the zygote forked: its end is reported by the zygote; after the zygote's
    own end, nobody reports it, and its disappearance is all there is to wait for."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.ended: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.orphaned = False

    @property
    def returncode(self) -> int | None:
        return self.ended.result() if self.ended.done() else None

    async def wait(self) -> int | None:
        while not self.ended.done():
            if self.orphaned and not _exists(self.pid):
                return None
            await asyncio.wait([self.ended], timeout=0.05)
        return self.ended.result()

    def kill(self) -> None:
        if not self.ended.done():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


class Zygote:
    """The front's handle on the serving zygote."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._calls: dict[int, asyncio.Future[int]] = {}
        self._children: dict[int, _Forked] = {}
        self._numbers = itertools.count()
        self._ready: asyncio.Future[None] | None = None
        self.alive = False

    async def open(self, modules: list[str]) -> None:
        """Start the zygote with ``modules`` imported; a :class:`ServingError` if it
        does not come up."""
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "headwater.serving._zygote",
                str(theirs.fileno()),
                *modules,
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=_log_fd(),
                env=worker_environment(),
            )
        except OSError as e:
            ours.close()
            raise ServingError(500, f"the serving zygote could not be started: {e}") from e
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock = ours
        self._ready = loop.create_future()
        loop.add_reader(ours.fileno(), self._readable)
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), ZYGOTE_START_TIMEOUT)
        except (TimeoutError, ServingError) as e:
            await self.close()
            raise ServingError(500, f"the serving zygote did not start: {e}") from e
        self.alive = True

    def _readable(self) -> None:
        assert self._sock is not None
        while True:
            try:
                data = self._sock.recv(4096)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._gone()
                return
            message: tuple[Any, ...] = pickle.loads(data)
            kind = message[0]
            if kind == "ready" and self._ready is not None and not self._ready.done():
                self._ready.set_result(None)
            elif kind == "forked":
                future = self._calls.pop(message[1], None)
                if future is not None and not future.done():
                    future.set_result(message[2])
            elif kind == "exited":
                child = self._children.pop(message[1], None)
                if child is not None and not child.ended.done():
                    child.ended.set_result(message[2])

    def _gone(self) -> None:
        """The zygote died (or closed): workers are spawned fresh from now on."""
        self.alive = False
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        for child in self._children.values():
            child.orphaned = True
        self._children.clear()
        error = ServingError(500, "the serving zygote stopped")
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(error)
        for future in self._calls.values():
            if not future.done():
                future.set_exception(error)
        self._calls.clear()

    async def start(self, sock: socket.socket) -> WorkerProcess:
        if not self.alive or self._sock is None:
            raise ServingError(500, "the serving zygote is not running")
        number = next(self._numbers)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._calls[number] = future
        socket.send_fds(self._sock, [pickle.dumps(("fork", number))], [sock.fileno()])
        pid = await future
        child = _Forked(pid)
        self._children[pid] = child
        return child

    async def close(self) -> None:
        if self._sock is not None:
            self._gone()
        if self._process is not None and self._process.returncode is None:
            try:
                await asyncio.wait_for(self._process.wait(), 5.0)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()


class Launchers:
    """The zygote while it lives, fresh interpreters after."""

    def __init__(self) -> None:
        self.zygote: Zygote | None = None
        self.spawner = Spawner()

    async def open(self, flavors: list[str]) -> None:
        modules = list(dict.fromkeys(m for f in flavors for m in PRELOADS.get(f, [])))
        zygote = Zygote()
        try:
            await zygote.open(modules)
        except ServingError as e:
            print(f"headwater serve: {e.message}; starting workers without it", file=sys.stderr)
            return
        self.zygote = zygote

    async def start(self, sock: socket.socket) -> WorkerProcess:
        if self.zygote is not None and self.zygote.alive:
            with contextlib.suppress(ServingError, OSError):
                return await self.zygote.start(sock)
        return await self.spawner.start(sock)

    async def close(self) -> None:
        if self.zygote is not None:
            await self.zygote.close()
