"""A warm worker that forks one child process per task.

The zygote imports Headwater, the pipeline's modules and the libraries its
components import once; each task then runs in a fresh ``fork()`` of it: a
separate process (its own memory, its own session so its whole process tree
can be killed) that starts in about a millisecond instead of paying for an
interpreter and its imports.

Protocol (JSON lines): commands arrive on ``cmd_fd`` —
``{"op": "preload", "modules": [[root, module, file], ...], "imports": [...]}``,
``{"op": "run", "id": ..., "input": ..., "task": {...} or null, "log": ...,
"env": {...}, "cwd": ...}`` (``task`` is the task input itself; without it the task
reads the file ``input`` names), ``{"op": "cancel", "id": ...}`` (SIGKILL that task's
process group), ``{"op": "spares", "n": N}`` (how many children to fork ahead, see
below); events leave on ``event_fd`` —
``{"ev": "ready"}``, ``{"ev": "started", "id", "pid"}``,
``{"ev": "exited", "id", "pid", "status", "maxrss"}`` (exit code, or minus the signal;
the most resident memory the task process itself used, in bytes).
A task does not wait for its fork: the zygote keeps ``n`` spare children (1 by default),
forked ahead of need while it has nothing else to do, each of which has already left
the zygote's session and given up its descriptors. A ``run`` command goes to a spare
through a pipe of its own (the spare then runs that one task and exits; no spare runs
two): first the command, then, once the zygote has sent ``started``, a newline that lets
the spare go, so that no task runs unannounced. After a ``preload`` the spares are
replaced, so that every task sees what was preloaded before its command arrived.
When the command stream closes, every child's process group is killed. When the
zygote itself dies, the kernel kills its children (``PR_SET_PDEATHSIG``): nothing
would report their end any more, and the executor that started the zygote stops
what they started and decides what becomes of their tasks.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import selectors
import signal
import sys
import time
from typing import Any

_PR_SET_PDEATHSIG = 1


def _prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


# Looked up once, before the first fork, so a child pays nothing for it.
_PRCTL = _prctl()


def _die_with(parent: int) -> None:
    """Have the kernel SIGKILL this process when the zygote ``parent`` dies (Linux)."""
    if _PRCTL is None:
        return
    _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it died before the request was in place
        os._exit(1)


def _spare(cmd_r: int, done_w: int, fds: tuple[int, ...], parent: int) -> None:
    """In a forked spare: get ready for a task (a session of its own, default signal
    handling, no descriptor of the zygote's), then wait for its one command on ``cmd_r``
    and run it. It tells the zygote its end on ``done_w``
    before it exits: tearing a process down takes longer than the message. Never
    returns."""
    code = 1
    ran = False
    try:
        os.setsid()
        _die_with(parent)
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        data = b""
        while True:
            chunk = os.read(cmd_r, 1 << 20)
            if not chunk:
                break
            data += chunk
        os.close(cmd_r)
        if not data.endswith(b"\n"):
            # Let go unused, or the zygote died between handing over the command and
            # the go-ahead: the executor decides what becomes of that task.
            os._exit(0)
        ran = True
        code = _run(json.loads(data))
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        if ran:
            with contextlib.suppress(Exception):
                import resource

                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB
                os.write(done_w, json.dumps({"status": code, "maxrss": peak}).encode())
        os._exit(code)


def _run(cmd: dict[str, Any]) -> int:
    """Run the task of a ``run`` command in this (forked) process; its exit code."""
    log = os.open(cmd["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    os.environ.update(cmd.get("env") or {})
    if cmd.get("cwd"):
        os.chdir(cmd["cwd"])
    from headwater.runtime._execute import execute

    return execute(cmd["input"], cmd.get("task"))


def _preload(cmd: dict[str, Any]) -> None:
    from headwater.runtime._execute import load_module

    # The libraries the tasks import first (they dominate), then the pipeline's modules.
    for name in sorted(set(cmd.get("imports", []))):
        with contextlib.suppress(BaseException):
            importlib.import_module(name)
    for root, module, file in cmd.get("modules", []):
        with contextlib.suppress(BaseException):  # the task reports it properly when it runs
            load_module(root, module, file)


def _warm() -> None:
    """Run one no-op task here, so the code paths every task takes are warm."""
    with contextlib.suppress(Exception):
        from headwater.runtime._warmup import warm_up

        warm_up()


def _freeze() -> None:
    """Move everything loaded so far out of the collector's reach, so forked children
    share those pages instead of copying them when a collection touches them."""
    import gc

    gc.collect()
    gc.freeze()


def serve(cmd_fd: int, event_fd: int) -> None:
    # Warm the modules every task needs before the first fork.
    # Deliberately light: no pydantic or spec models here. A smaller parent makes every
    # fork cheaper; the task input carries the component's interface as plain JSON.
    import headwater._typecheck
    import headwater.runtime._execute
    import headwater.runtime._outputs  # noqa: F401

    _warm()
    events = os.fdopen(event_fd, "wb", buffering=0)
    cmds = os.fdopen(cmd_fd, "rb", buffering=0)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the engine decides; Ctrl-C reaches it
    children: dict[int, str] = {}  # task processes: pid -> task id
    ended: set[int] = set()  # task processes whose end was reported (from their message)
    spares: dict[int, int] = {}  # spares: pid -> the write end of its command pipe
    done: dict[int, int] = {}  # spares and task processes: pid -> the read end of their end
    wanted = 1  # how many spares to keep
    fds = (cmd_fd, event_fd, wake_r, wake_w)
    zygote = os.getpid()
    sel = selectors.DefaultSelector()

    def emit(msg: dict[str, Any]) -> None:
        try:
            events.write((json.dumps(msg) + "\n").encode())
        except BrokenPipeError:  # the engine is gone: so is the point of going on
            os._exit(0)

    def forget(pid: int) -> None:
        """Stop listening for the end of ``pid``."""
        r = done.pop(pid, None)
        if r is not None:
            sel.unregister(r)
            os.close(r)

    def told(pid: int) -> None:
        """``pid`` wrote its end (or closed its pipe without one): report the end now,
        not once the process is torn down."""
        r = done[pid]
        try:
            data = os.read(r, 4096)
        except OSError:
            data = b""
        forget(pid)
        task_id = children.get(pid)
        if not data or task_id is None:
            return  # killed, or a spare let go: its exit status is reported when reaped
        try:
            msg = json.loads(data)
            status, maxrss = int(msg["status"]), int(msg["maxrss"])
        except (ValueError, KeyError, TypeError):
            return
        ended.add(pid)
        emit({"ev": "exited", "id": task_id, "pid": pid, "status": status, "maxrss": maxrss})

    def reap() -> None:
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            forget(pid)
            w = spares.pop(pid, None)
            if w is not None:  # a spare ended before it was used
                with contextlib.suppress(OSError):
                    os.close(w)
            task_id = children.pop(pid, None)
            if pid in ended:
                ended.discard(pid)
            elif task_id is not None:
                emit(
                    {
                        "ev": "exited",
                        "id": task_id,
                        "pid": pid,
                        "status": os.waitstatus_to_exitcode(status),
                        "maxrss": usage.ru_maxrss * 1024,  # KiB on Linux
                    }
                )

    def fork_spare() -> int | None:
        cmd_r, cmd_w = os.pipe()
        done_r, done_w = os.pipe()
        try:
            pid = os.fork()
        except OSError:  # no process to be had now: the next command tries again
            for fd in (cmd_r, cmd_w, done_r, done_w):
                os.close(fd)
            return None
        if pid == 0:
            theirs = (*fds, cmd_w, done_r, *spares.values(), *done.values())
            _spare(cmd_r, done_w, theirs, zygote)
        os.close(cmd_r)
        os.close(done_w)
        spares[pid] = cmd_w
        done[pid] = done_r
        sel.register(done_r, selectors.EVENT_READ, pid)
        return pid

    def drop_spares() -> None:
        """Let every spare go (it exits when its pipe closes unused)."""
        for pid, w in spares.items():
            with contextlib.suppress(OSError):
                os.close(w)
            forget(pid)
        spares.clear()  # reaped as they exit

    def start(cmd: dict[str, Any], data: bytes) -> None:
        while True:
            if not spares and fork_spare() is None:
                # No process can be had: the zygote ends, and the executor decides
                # what becomes of its tasks.
                raise OSError("cannot fork a task process")
            pid, w = next(iter(spares.items()))
            del spares[pid]
            try:
                _write_all(w, data)
            except OSError:  # that spare died meanwhile: take another
                with contextlib.suppress(OSError):
                    os.close(w)
                forget(pid)
                continue
            # The task starts only once it is announced: the newline is the go-ahead,
            # so a zygote killed before it leaves no task running that the executor
            # believes never started (and would start again).
            children[pid] = cmd["id"]
            emit({"ev": "started", "id": cmd["id"], "pid": pid, "at": time.time()})
            with contextlib.suppress(OSError):  # if it died, reap() reports its end
                _write_all(w, b"\n")
            with contextlib.suppress(OSError):
                os.close(w)
            return

    sel.register(cmds, selectors.EVENT_READ)
    sel.register(wake_r, selectors.EVENT_READ)
    buf = b""
    emit({"ev": "ready", "pid": os.getpid()})
    try:
        while True:
            # Spares are forked while nothing waits, off the path of the next command.
            while len(spares) < wanted and fork_spare() is not None:
                pass
            for key, _ in sel.select():
                if key.fileobj == wake_r:
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_r, 4096)
                    reap()
                    continue
                if key.data is not None:  # a task process's end
                    if key.data in done:
                        told(key.data)
                    continue
                chunk = os.read(cmd_fd, 65536)
                if not chunk:
                    return
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    cmd = json.loads(line)
                    if cmd["op"] == "preload":
                        before = len(sys.modules)
                        _preload(cmd)
                        if len(sys.modules) != before:  # something new to share
                            _freeze()
                            drop_spares()  # forked before: they would lack it
                        emit({"ev": "preloaded"})
                    elif cmd["op"] == "run":
                        start(cmd, line)
                    elif cmd["op"] == "spares":
                        wanted = max(0, int(cmd["n"]))
                        while len(spares) > wanted:
                            pid, w = spares.popitem()
                            forget(pid)
                            with contextlib.suppress(OSError):
                                os.close(w)
                    elif cmd["op"] == "cancel":  # kill it now, not after a round trip
                        for pid, task_id in children.items():
                            if task_id == cmd["id"]:
                                with contextlib.suppress(ProcessLookupError, PermissionError):
                                    os.killpg(pid, signal.SIGKILL)
                    elif cmd["op"] == "exit":
                        return
            reap()
    finally:
        drop_spares()
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        reap()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
