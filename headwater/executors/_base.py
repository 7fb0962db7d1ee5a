"""The one interface between the engine and whatever runs task processes.

The engine drives any :class:`Executor`: it asks whether a task can ever run here
(:meth:`~Executor.check`) and whether it can run now (:meth:`~Executor.has_room`),
submits :class:`TaskRequest` objects, and waits for :class:`ExecEvent` objects. Every
detail of processes stays behind it: how they start, how their trees are killed, how
their memory is watched, how a timeout is enforced, how a task left behind by an
earlier engine is found and stopped.

Executors never write to the metadata store; the engine does (DESIGN.md, contract 5).
Every executor passes the conformance suite in ``tests/executors`` (docs/adr/0012).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


@dataclass(frozen=True)
class Resources:
    """What one task asks of the machine.

    ``accelerator`` names a kind of accelerator (``"A100"``) and ``custom`` asks for
    named resources that some machines of a cluster offer (``{"special": 1}``); an
    executor that cannot honour them refuses the task from :meth:`Executor.check`.
    """

    cpu: float = 0.0
    memory: int = 0
    gpu: int = 0
    accelerator: str | None = None
    custom: Mapping[str, float] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Environment:
    """A per-step environment: every package pinned (``requirements``, the lines of a
    lock) for one interpreter (``python``, e.g. ``cpython-3.11``). ``digest`` names it
    (the lock's digest: the interpreter and the sorted pins); ``requested`` is what the
    steps asked for, for people to read.

    An executor provides it its own way: the local one builds a virtual environment
    with uv (:mod:`headwater.envs`); another may hand the list to its cluster.
    """

    digest: str
    requirements: tuple[str, ...]
    python: str = ""
    requested: tuple[str, ...] = ()

    def other_interpreter(self) -> str | None:
        """This interpreter's tag when the environment is for another one, else None."""
        if not self.python:
            return None
        from headwater.envs import interpreter_tag

        here = interpreter_tag()
        return here if self.python != here else None

    def describe(self) -> str:
        """A short name for messages: the digest's start and what was asked for."""
        asked = ", ".join(self.requested or self.requirements)
        if len(asked) > 80:
            asked = asked[:77] + "..."
        return f"{self.digest[:19]} ({asked})"


Report = Callable[[str], None]
"""Told each line of output of preparing an environment (a build's progress)."""


@dataclass(frozen=True)
class TaskRequest:
    """One task attempt to run: a process runs ``python -m headwater.runtime input_path``
    (or the same in a forked worker), with its output and errors going to ``log_path``.

    ``timeout_seconds`` counts from the start; past it the executor stops the task's whole
    process tree (SIGTERM, then SIGKILL after :data:`KILL_GRACE_SECONDS`). A
    ``resources.memory`` request is a limit: a task tree using more is killed.
    ``environment`` is the per-step environment the task runs in (None: the executor's
    own Python); an executor that cannot provide it says so from :meth:`Executor.check`.

    ``task_input``, when set, is the task input itself, not yet written to
    ``input_path``: an executor that can hand it to the task process directly (the local
    executor's warm worker, over its pipe) does so and writes no file; any other writes
    it to ``input_path`` first (:func:`write_task_input`).
    """

    id: str
    input_path: str
    log_path: str
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    resources: Resources = Resources()
    fresh_interpreter: bool = False
    timeout_seconds: float | None = None
    environment: Environment | None = None
    task_input: dict[str, Any] | None = None


def write_task_input(request: TaskRequest) -> None:
    """Write the request's task input to its ``input_path``, if the caller left that to
    the executor."""
    if request.task_input is not None:
        from headwater.runtime import write_json

        write_json(request.input_path, request.task_input)


class Stopped(StrEnum):
    """Why the executor itself ended a task."""

    TIMEOUT = "timeout"
    MEMORY_EXCEEDED = "memory_exceeded"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class ExecEvent:
    """What happened to a task process.

    Kinds, each reported once per task and in this order:

    - ``started``: its process runs (``pid``, on the machine ``node`` names).
    - ``exited``: it ended with ``status`` (the exit code, or minus the signal).
      ``stopped`` says why the executor ended it, if it did; ``peak_rss`` is the most
      resident memory its process tree was seen using (when it was watched) and
      ``wall_seconds`` how long it ran. For a SIGKILL the executor did not send, ``oom``
      holds any evidence that memory ran out.
    - ``lost``: whatever ran it died, so its exit status will never be known
      (``reason`` says what happened; its processes were stopped, and whatever they
      wrote stays).

    ``wake`` carries no news: it only ends a wait. ``at`` is when the executor saw it
    happen (``time.time()``; None: when the engine hears of it).
    """

    kind: str
    id: str
    pid: int | None = None
    status: int | None = None
    reason: str | None = None
    oom: str | None = None
    stopped: Stopped | None = None
    peak_rss: int | None = None
    wall_seconds: float | None = None
    node: str | None = None
    at: float | None = None


# Between the SIGTERM that ends a timed-out task and the SIGKILL that follows.
KILL_GRACE_SECONDS = 5.0


class Executor(Protocol):
    """Runs task processes for one engine; the engine calls it from one thread (only
    :meth:`wake` may be called from anywhere, a signal handler included)."""

    name: str

    def refuse(self, option: str, value: object) -> str | None:
        """Why this executor cannot honour a task that sets ``option`` to ``value``, and
        what to do instead; None when it honours it.

        ``option`` names a field of the spec's task options that depends on where a task
        runs (``timeout_seconds``, ``env``, ``packages``, ``image``,
        ``fresh_interpreter``), or one field of its resources (``resources.cpu``,
        ``resources.memory_bytes``, ``resources.gpu``, ``resources.accelerator``, ...);
        ``value`` is what the task sets it to. An option the executor does not know is
        refused. It reads no state: it is asked before a run starts, of the executor's
        class as well as of an executor (see :class:`~headwater.executors.ExecutorKind`).
        The engine refuses the run with the reason, naming the pipeline, the task, the
        option and the executor (docs/adr/0012)."""
        ...

    def warm(self) -> None:
        """Start what takes time to start (workers, connections), so it is ready sooner:
        the engine calls it once it knows a task must run (a fully cached run starts
        nothing)."""
        ...

    def preload_file(self, path: str, imports: Sequence[str] = ()) -> None:
        """Have warm workers import a pipeline file, and ``imports`` (the modules its
        tasks were seen to import), while the caller compiles it."""
        ...

    def start(self, preload: list[tuple[str, str, str]], imports: list[str]) -> None:
        """Prepare for a run: ``preload`` is (root, module, file) of its components, and
        ``imports`` the modules its tasks will import. Called again during the run with
        modules its tasks were seen to import since (the tasks that follow fork from
        workers that have them)."""
        ...

    def check(self, resources: Resources, environment: Environment | None = None) -> str | None:
        """Why a task asking ``resources`` (in ``environment``) can never run here, or None."""
        ...

    def prepare(
        self,
        environment: Environment,
        preload: list[tuple[str, str, str]],
        report: Report | None = None,
        imports: Sequence[str] = (),
    ) -> None:
        """Make ``environment`` ready before tasks run in it (building it may take a while;
        ``report`` is told its progress, line by line), and have what runs its tasks
        import the modules ``preload`` and ``imports`` name, as :meth:`start` does for the
        others (called again with more ``imports`` as its tasks report them). Raises
        :class:`~headwater.errors.EnvError` when it cannot be made."""
        ...

    def has_room(self, resources: Resources) -> bool:
        """Whether a task asking ``resources`` can start now."""
        ...

    def submit(self, request: TaskRequest) -> None:
        """Start ``request`` (the caller made sure there is room)."""
        ...

    def events(self, timeout: float | None) -> list[ExecEvent]:
        """What happened since the last call, waiting up to ``timeout`` seconds for news."""
        ...

    def wake(self) -> None:
        """Make a waiting :meth:`events` call return now."""
        ...

    def cancel(self, task_id: str) -> None:
        """Stop a submitted task and its whole process tree now; it is reported
        ``exited`` with ``stopped`` CANCELLED (or ``lost``)."""
        ...

    def reclaim(self, pid: int | None, log_path: str | None) -> None:
        """Stop what is left of a task an earlier engine started (``pid``, if it was
        recorded, and the log it writes to), so it never runs beside its replacement."""
        ...

    def close(self) -> None:
        """Stop every task still running and release the workers."""
        ...
