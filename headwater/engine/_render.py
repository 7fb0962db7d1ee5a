"""Rendering a template in the render process, within a time, size and memory limit.

:func:`render` hands one template and its context to a render process
(:mod:`headwater.engine._template_worker`) and waits at most the render time limit for
the answer. A process that does not answer in time is killed: whatever the template
does (nested loops, a recursive macro, a huge power), it stops there, and the next
render gets a fresh process. Processes are kept warm between renders, a few at most, so
a render costs a round trip over a pipe, not a start; the first one of a process (or
:func:`warm`) starts one. A process that forked since gets its own.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

__all__ = ["RenderFailed", "render", "warm"]

_WORKER = Path(__file__).with_name("_template_worker.py")
_LENGTH = struct.Struct(">I")
_STARTUP_SECONDS = 60.0  # importing Jinja on a loaded machine; not part of the render limit
_KEEP = 4


class RenderFailed(Exception):
    """The template could not be rendered: ``kind`` says why (``timeout``, ``size``,
    ``memory``, ``security``, ``template``, ``error``, ``crashed``)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class _Worker:
    """One render process and its pipes."""

    def __init__(self, memory: int) -> None:
        self.memory = memory
        self.process = subprocess.Popen(
            [sys.executable, "-P", str(_WORKER), str(memory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.ready = False

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def _read(self, size: int, deadline: float, what: str) -> bytes:
        stdout = self.process.stdout
        assert stdout is not None
        fd = stdout.fileno()
        data = b""
        while len(data) < size:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise RenderFailed("timeout", what)
            chunk = os.read(fd, size - len(data))
            if not chunk:
                raise RenderFailed("crashed", "the render process stopped unexpectedly")
            data += chunk
        return data

    def ask(self, payload: bytes, seconds: float) -> Any:
        if not self.ready:
            self._read(1, time.monotonic() + _STARTUP_SECONDS, "the render process did not start")
            self.ready = True
        stdin: IO[bytes] | None = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(_LENGTH.pack(len(payload)) + payload)
            stdin.flush()
        except (BrokenPipeError, OSError):
            raise RenderFailed("crashed", "the render process stopped unexpectedly") from None
        deadline = time.monotonic() + seconds
        late = f"it did not finish within {seconds:g} s"
        (size,) = _LENGTH.unpack(self._read(_LENGTH.size, deadline, late))
        return json.loads(self._read(size, deadline, late))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            self.process.wait(5)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


_lock = threading.Lock()
_idle: list[_Worker] = []
_pid = os.getpid()


def _forked() -> None:
    """In a forked child, the parent's processes are not ours to talk to (or kill)."""
    global _pid
    if _pid != os.getpid():
        _idle.clear()
        _pid = os.getpid()


def _take(memory: int) -> _Worker:
    with _lock:
        _forked()
        while _idle:
            worker = _idle.pop()
            if worker.alive and worker.memory == memory:
                return worker
            worker.close()
    return _Worker(memory)


def _give(worker: _Worker) -> None:
    with _lock:
        if worker.alive and len(_idle) < _KEEP and _pid == os.getpid():
            _idle.append(worker)
            return
    worker.close()


def warm(memory: int) -> None:
    """Start a render process now, if none is waiting, so the first render does not wait
    for it (starting does not block)."""
    with _lock:
        _forked()
        if not _idle:
            _idle.append(_Worker(memory))


@atexit.register
def _close_all() -> None:
    with _lock:
        workers, _idle[:] = list(_idle), []
    for worker in workers:
        worker.close()


def render(
    template: str, context: dict[str, Any], *, seconds: float, max_bytes: int, memory: int
) -> str:
    """``template`` rendered with ``context``; :class:`RenderFailed` says why it was not.

    The context is sent as plain data; ``macros`` becomes the render process's own.
    """
    if "macros" in context:
        context = {**context, "macros": None}
    try:
        payload = pickle.dumps((template, context, max_bytes), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise RenderFailed(
            "error", f"the template context cannot be sent to the render process: {exc}"
        ) from None
    for attempt in (1, 2):
        worker = _take(memory)
        try:
            answer = worker.ask(payload, seconds)
        except RenderFailed as exc:
            worker.close()
            # A kept process may have died while it waited (its answer before was that it
            # ran out of memory): one fresh try.
            if exc.kind == "crashed" and attempt == 1:
                continue
            raise
        except BaseException:
            worker.close()  # mid-render (Ctrl-C): its answer would come to the next caller
            raise
        if answer.get("kind") == "memory":
            worker.close()  # it exits after such an answer
        else:
            _give(worker)
        if "ok" in answer:
            return str(answer["ok"])
        raise RenderFailed(str(answer.get("kind", "error")), str(answer.get("error", "failed")))
    raise AssertionError("unreachable")
