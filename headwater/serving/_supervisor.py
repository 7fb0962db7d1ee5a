"""``headwater standalone --deployment NAME``: ``headwater serve`` as a supervised child
process, so that a team runs one service.

The child is a whole ``headwater serve`` (its own front, zygote and workers; ADR 21):
the standalone process only starts it, restarts it when it exits unasked (at once the
first time, then after a pause doubling with each exit within a minute, up to
:data:`MAX_PAUSE` seconds), and stops it with SIGTERM (its requests in progress are
answered) when the standalone stops. On Linux the child also gets SIGTERM if the
standalone dies without stopping it.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

MAX_PAUSE = 30.0
_QUICK = 60.0


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class ServeSupervisor:
    """Runs ``headwater serve ARGS`` until :meth:`stop`, restarting it when it exits."""

    def __init__(self, args: Sequence[str]) -> None:
        self.args = list(args)
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="serve-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _say(self, text: str) -> None:
        print(f"headwater standalone: {text}", file=sys.stderr, flush=True)

    def _run(self) -> None:
        pause = 0.0
        while not self._stopping.is_set():
            started = time.monotonic()
            command = [sys.executable, "-c", "from headwater.cli import run; run()", "serve"]
            self.process = subprocess.Popen(
                [*command, *self.args],
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
            self.starts += 1
            self._say(f"headwater serve started (pid {self.process.pid})")
            code = self.process.wait()
            if self._stopping.is_set():
                return
            pause = (
                0.0
                if time.monotonic() - started > _QUICK
                else min(MAX_PAUSE, pause * 2 if pause else 0.5)
            )
            self._say(
                f"headwater serve (pid {self.process.pid}) exited with {code}; "
                f"starting it again in {pause:g} s"
            )
            self._stopping.wait(pause)

    def stop(self, grace: float = 10.0) -> None:
        self._stopping.set()
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait()
        self._thread.join(grace)
