"""Model worker processes as the front sees them: started, called, supervised, stopped.

Each :class:`Worker` owns one process (forked from the zygote, see ``_launch``) and the
front's end of its socket pair, read by an asyncio protocol in the front's one event
loop: a call writes one message and awaits a future that the protocol resolves when the
answer arrives, so the front never blocks and never spends a thread per request.

A worker that stops unasked (killed, crashed, out of memory) fails the calls it held with
a 503 that says what happened, and is started again: at once the first time, then after
a pause that doubles with each crash within a minute (up to 30 s). One that fails to
load :data:`MAX_LOAD_FAILURES` times in a row is left failed, with the reason.

A call not answered within the version's request timeout (``_limits``) is answered with
a 504, and its worker is killed: a hung model would hold its slot forever. The worker
is started again at once (a timeout is not a crash: no pause), and the other calls it
held get the 503 of a worker that stopped, saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from headwater.errors import ServingError
from headwater.serving._launch import Launcher, WorkerProcess
from headwater.serving._types import LoadSpec, ModelMetadata, Output, WorkerState
from headwater.serving._wire import FrameReader, pack

#: Loads that fail in a row before a worker is left failed.
MAX_LOAD_FAILURES = 3
#: How long a model may take to load.
LOAD_TIMEOUT = 300.0
#: How long a stopped worker gets to finish before it is killed.
STOP_GRACE = 5.0
_CRASH_WINDOW = 60.0
_MAX_PAUSE = 30.0


def _exit_text(code: int | None) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            return f"it was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"it was killed by signal {-code}"
    return f"it exited with status {code}"


class _Link(asyncio.Protocol):
    """The front's end of one worker's socket."""

    def __init__(self, on_message: Callable[[tuple[Any, ...]], None]) -> None:
        self.reader = FrameReader(on_message)
        self.transport: asyncio.Transport | None = None
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.reader.feed(data)
        except Exception:  # a broken stream: treat it as the worker gone
            if self.transport is not None:
                self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)


class Worker:
    """One model worker process (number ``index`` of its model version), supervised:
    started, restarted after a crash, stopped."""

    def __init__(
        self, spec: LoadSpec, index: int, launcher: Launcher, memory_mb: int | None = None
    ) -> None:
        self.spec = spec
        self.memory_mb = memory_mb
        self._launcher = launcher
        self.index = index
        self.state = WorkerState.STARTING
        self.reason = ""
        self.metadata: ModelMetadata | None = None
        self.pid: int | None = None
        self.ready = asyncio.Event()
        self._calls: dict[int, asyncio.Future[Any]] = {}
        self._numbers = itertools.count()
        self._link: _Link | None = None
        self._process: WorkerProcess | None = None
        self._loaded: asyncio.Future[Any] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._crashes: list[float] = []
        self._failed_loads = 0
        #: Why the front killed the process, when it did (a request timed out).
        self._killed_for = ""

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def closed(self) -> bool:
        return self.state is WorkerState.CLOSED

    @property
    def in_flight(self) -> int:
        return len(self._calls)

    def _set(self, state: WorkerState, reason: str = "") -> None:
        self.state = state
        self.reason = reason
        if state is WorkerState.READY:
            self.ready.set()
        else:
            self.ready.clear()

    # ------------------------------------------------------------------ starting

    async def start(self) -> ModelMetadata:
        """Start the process and wait until the model is loaded; a :class:`ServingError`
        says why it could not be (the worker is then closed). Afterwards the worker is
        supervised: restarted when it stops unasked."""
        try:
            metadata = await self._launch()
        except ServingError as e:
            await self._kill()
            self._set(WorkerState.CLOSED, e.message)
            raise
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise())
        return metadata

    async def _launch(self) -> ModelMetadata:
        self._set(WorkerState.STARTING)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._process = await self._launcher.start(theirs)
        except (OSError, ServingError) as e:
            ours.close()
            raise ServingError(500, f"{self.label}: its worker could not be started: {e}") from e
        finally:
            theirs.close()
        self.pid = self._process.pid
        loop = asyncio.get_running_loop()
        self._loaded = loop.create_future()
        _, link = await loop.create_unix_connection(lambda: _Link(self._on_message), sock=ours)
        self._link = link
        assert link.transport is not None
        link.transport.write(pack(("load", self.spec, self.memory_mb)))
        done, _ = await asyncio.wait(
            [self._loaded, link.lost], timeout=LOAD_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if self._loaded in done:
            kind, *rest = self._loaded.result()
            if kind == "ready":
                self.metadata = rest[0]
                assert self.metadata is not None
                self._set(WorkerState.READY)
                return self.metadata
            status, message = rest
            raise ServingError(status, message)
        if link.lost in done:
            code = await self._reap(2.0)
            raise ServingError(
                500, f"{self.label} could not be loaded: its worker stopped ({_exit_text(code)})"
            )
        raise ServingError(
            500, f"{self.label} could not be loaded within {LOAD_TIMEOUT:.0f} seconds"
        )

    def _on_message(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind in ("ok", "error"):
            future = self._calls.pop(message[1], None)
            if future is None or future.done():
                return
            if kind == "ok":
                future.set_result(message[2])
            else:
                future.set_exception(ServingError(message[2], message[3]))
        elif kind in ("ready", "failed") and self._loaded is not None and not self._loaded.done():
            self._loaded.set_result(message)

    # ------------------------------------------------------------------ calls

    async def call(
        self,
        inputs: dict[str, Any],
        parameters: dict[str, Any],
        wanted: list[str] | None,
        timeout: float | None = None,
    ) -> list[Output]:
        """One inference on this worker (which must be ready); a 504, and the worker
        killed and started again, when it has not answered within ``timeout`` seconds."""
        link = self._link
        if self.state is not WorkerState.READY or link is None or link.transport is None:
            raise ServingError(503, f"{self.label} is not ready")
        number = next(self._numbers)
        future: asyncio.Future[list[Output]] = asyncio.get_running_loop().create_future()
        self._calls[number] = future
        try:
            link.transport.write(pack(("infer", number, inputs, parameters, wanted)))
        except Exception as e:
            self._calls.pop(number, None)
            raise ServingError(500, f"{self.label}: the request cannot be sent: {e}") from e
        if timeout is None:
            return await future
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self._calls.pop(number, None)
            pid = self.pid
            self._stop_hung(timeout)
            raise ServingError(
                504,
                f"{self.label} did not answer within {timeout:g} s: its worker "
                f"(pid {pid}) was stopped and is being restarted",
                hint="if the model needs longer, raise the limit: headwater serve "
                "--request-timeout SECONDS, or the load parameter request_timeout",
            ) from None

    def _stop_hung(self, timeout: float) -> None:
        """Kill the process of a call that timed out; the supervisor starts another."""
        process = self._process
        if process is None or process.returncode is not None or self._killed_for:
            return
        self._killed_for = f"it was stopped after a request ran past {timeout:g} s"
        with contextlib.suppress(ProcessLookupError):
            process.kill()

    def _fail_calls(self, message: str) -> None:
        calls, self._calls = self._calls, {}
        for future in calls.values():
            if not future.done():
                future.set_exception(ServingError(503, message))

    # ------------------------------------------------------------------ supervision

    async def _supervise(self) -> None:
        while True:
            link = self._link
            assert link is not None
            await link.lost
            if self.closed:
                return
            code = await self._reap(2.0)
            killed, self._killed_for = self._killed_for, ""
            what = killed or _exit_text(code)
            if self.memory_mb is not None and not killed:
                what += f"; its memory limit is {self.memory_mb} MiB"
            self._fail_calls(
                f"{self.label}: its worker (pid {self.pid}) stopped while answering ({what}); "
                "it is being restarted, send the request again"
            )
            now = time.monotonic()
            self._crashes = [t for t in self._crashes if now - t < _CRASH_WINDOW]
            if not killed:  # a hung request is not a crash: its worker is back at once
                self._crashes.append(now)
            crashes = len(self._crashes)
            pause = 0.0 if crashes <= 1 or killed else min(_MAX_PAUSE, 2.0 ** (crashes - 1))
            print(
                f"headwater serve: {self.label}: worker {self.index + 1} (pid {self.pid}) "
                f"stopped ({what}); "
                f"restarting{f' in {pause:.0f} s' if pause else ''}",
                file=sys.stderr,
                flush=True,
            )
            self._set(WorkerState.RESTARTING, f"its worker stopped ({what}); restarting")
            while True:
                if pause:
                    await asyncio.sleep(pause)
                if self.closed:
                    return
                try:
                    await self._launch()
                    self._failed_loads = 0
                    break
                except ServingError as e:
                    await self._kill()
                    self._failed_loads += 1
                    if self._failed_loads >= MAX_LOAD_FAILURES:
                        self._set(WorkerState.FAILED, e.message)
                        return
                    self._set(WorkerState.RESTARTING, e.message)
                    pause = min(_MAX_PAUSE, 2.0**self._failed_loads)

    async def _reap(self, timeout: float) -> int | None:
        process = self._process
        if process is None:
            return None
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(process.wait(), timeout)
        return None

    async def _kill(self) -> None:
        if self._link is not None and self._link.transport is not None:
            self._link.transport.abort()
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), STOP_GRACE)

    # ------------------------------------------------------------------ stopping

    async def close(self) -> None:
        """Stop the worker: the requests it holds are answered first (up to
        :data:`STOP_GRACE` seconds), then it is told to stop, then killed."""
        previous = self.state
        self._set(WorkerState.CLOSED, "unloaded")
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        deadline = time.monotonic() + STOP_GRACE
        while self._calls and time.monotonic() < deadline and previous is WorkerState.READY:
            await asyncio.sleep(0.02)
        link, process = self._link, self._process
        if link is not None and link.transport is not None and not link.transport.is_closing():
            link.transport.write(pack(("stop",)))
            link.transport.close()
        if process is not None and process.returncode is None:
            try:
                await asyncio.wait_for(process.wait(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                await self._kill()
        self._fail_calls(f"{self.label} was unloaded before it answered")
