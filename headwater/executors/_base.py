"""What every executor offers the engine: submit, report events, kill, close.

Executors never write to the metadata store; the engine does (DESIGN.md, contract 5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Resources:
    """What one task asks of the machine."""

    cpu: float = 0.0
    memory: int = 0
    gpu: int = 0


@dataclass(frozen=True)
class TaskRequest:
    id: str
    input_path: str
    log_path: str
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    resources: Resources = Resources()
    fresh_interpreter: bool = False


@dataclass(frozen=True)
class ExecEvent:
    """What happened to a task process.

    ``started`` (with ``pid``); ``exited`` (with ``status``: the exit code, or minus the
    signal; for a SIGKILL, ``oom`` holds any evidence that memory ran out); ``lost``: the
    worker that ran the task died, so its exit status will never be known (``reason``
    says what happened; the task's process was stopped, and whatever it wrote before
    stays). ``wake`` carries no news: it only ends a wait.
    """

    kind: str
    id: str
    pid: int | None = None
    status: int | None = None
    reason: str | None = None
    oom: str | None = None


class Executor(Protocol):
    def start(self, preload: list[tuple[str, str, str]], imports: list[str]) -> None: ...

    def check(self, resources: Resources) -> str | None:
        """Why a task asking ``resources`` can never run here, or None."""
        ...

    def has_room(self, resources: Resources) -> bool: ...

    def submit(self, request: TaskRequest) -> None: ...

    def events(self, timeout: float | None) -> list[ExecEvent]: ...

    def signal(self, task_id: str, sig: int) -> None: ...

    def close(self) -> None: ...
