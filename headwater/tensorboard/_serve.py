"""TensorBoard itself, started on a log directory as a child process and stopped with it.

TensorBoard runs as ``python -m tensorboard.main`` in a session of its own: a Ctrl-C in the
terminal reaches only ``headwater tensorboard``, which then stops TensorBoard and whatever
TensorBoard started (its data server) as one process group, and waits for them. Its output
goes to a file; the line where it says where it serves gives the address (the port it
picked, with ``--port 0``).

``headwater tensorboard`` killed with SIGKILL cannot stop anything: on Linux the kernel
kills TensorBoard with it (its parent-death signal), and TensorBoard's data server ends
when TensorBoard does. Its temporary folder (the log directory and TensorBoard's output)
lives under ``HEADWATER_HOME/tmp``, named after its process, and the next
``headwater tensorboard`` removes the folders of processes that are gone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from headwater._process import pid_alive
from headwater.errors import HeadwaterError

_SERVING = re.compile(r"TensorBoard \S+ at (https?://\S+)")


def check_port(host: str, port: int) -> None:
    """A clear error if TensorBoard could not listen on ``host``:``port`` (the port taken
    on one of the host's addresses, or none of them an address of this machine); nothing
    listens afterwards."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise HeadwaterError(
            f"--host {host!r} is not a name or address of this machine ({exc.strerror})",
            hint="use localhost, 127.0.0.1, or 0.0.0.0 for every interface",
        ) from None
    failures: list[OSError] = []
    addresses = list(dict.fromkeys((info[0], info[4]) for info in infos))
    for family, address in addresses:
        try:
            with socket.create_server(address, family=family):
                pass
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise HeadwaterError(
                    f"port {port} on {host} is in use",
                    hint="stop what listens there, pick another port with --port N, or "
                    "--port 0 for any free one",
                ) from None
            failures.append(exc)
    if len(failures) == len(addresses):
        reason = failures[0].strerror or str(failures[0])
        raise HeadwaterError(
            f"TensorBoard cannot listen on {host}:{port}: {reason}",
            hint="use a port above 1023 (lower ones need privileges) and a host address of "
            "this machine",
        )


_PR_SET_PDEATHSIG = 1


def _own_session_dying_with_parent() -> None:
    """In the child, before TensorBoard starts: a session of its own (a Ctrl-C in the
    terminal reaches only us), and, on Linux, SIGKILL when its parent dies."""
    os.setsid()
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() == 1:  # the parent died before the signal was set
            os._exit(1)


def scratch_folder(home: Path) -> Path:
    """A temporary folder for this process under ``home/tmp``, after removing those of
    ``headwater tensorboard`` processes that are gone (killed before they could)."""
    import shutil

    base = home / "tmp"
    base.mkdir(parents=True, exist_ok=True)
    for old in base.glob("tensorboard-*"):
        pid = old.name.split("-")[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"tensorboard-{os.getpid()}-", dir=base))


def _alive(pid: int) -> bool:
    return pid == os.getpid() or pid_alive(pid)


class TensorBoard:
    """A running TensorBoard process serving one log directory."""

    def __init__(self, process: subprocess.Popen[bytes], output: Path, url: str) -> None:
        self.process = process
        self.url = url
        self._output = output

    @classmethod
    def start(
        cls,
        logdir: Path,
        *,
        host: str,
        port: int,
        timeout: float = 120.0,
        scratch: Path | None = None,
    ) -> TensorBoard:
        """Start TensorBoard on ``logdir`` and wait until it says where it serves; its
        output goes to a file in ``scratch`` (default: the system's temporary folder)."""
        fd, name = tempfile.mkstemp(
            prefix="headwater-tensorboard-", suffix=".log", dir=str(scratch) if scratch else None
        )
        output = Path(name)
        command = [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            str(logdir),
            "--host",
            host,
            "--port",
            str(port),
        ]
        with os.fdopen(fd, "wb") as sink:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                preexec_fn=_own_session_dying_with_parent,
            )
        board = cls(process, output, "")
        try:
            board.url = board._wait_for_address(timeout)
        except BaseException:
            board.stop()
            raise
        return board

    def _wait_for_address(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            found = _SERVING.search(self.output())
            if found:
                return found.group(1)
            if self.process.poll() is not None:
                raise HeadwaterError(
                    f"TensorBoard stopped before it served (exit status "
                    f"{self.process.returncode}): {self.tail()}",
                    hint="read TensorBoard's message above",
                )
            if time.monotonic() > deadline:
                raise HeadwaterError(
                    f"TensorBoard did not start serving within {timeout:.0f} s: {self.tail()}",
                    hint="try again; if it persists, run python -m tensorboard.main --logdir "
                    "DIR to see why",
                )
            time.sleep(0.1)

    def output(self) -> str:
        """What TensorBoard printed so far."""
        try:
            return self._output.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 5) -> str:
        text = [line for line in self.output().splitlines() if line.strip()]
        return " / ".join(text[-lines:]) or "(no output)"

    def wait(self) -> int:
        """Wait until TensorBoard ends; its exit status."""
        return self.process.wait()

    def stop(self, grace: float = 10.0) -> None:
        """Stop TensorBoard and its children: SIGTERM, then SIGKILL after ``grace`` s."""
        try:
            if self.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(grace)
            # Children (its data server) may outlive it: end the whole group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        finally:
            self._output.unlink(missing_ok=True)
