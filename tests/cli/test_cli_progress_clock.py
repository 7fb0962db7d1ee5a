"""The per-task clock of 'headwater run' stops when the task ends, however it ends."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from rich.console import Console

from headwater.cli._progress import Progress
from headwater.states import TASK_DONE, TaskStatus


@dataclass
class Task:
    """What the engine reports to a progress callback for a task (its unit's fields)."""

    path: str
    status: TaskStatus
    attempt: int = 1
    is_task: bool = True


@pytest.mark.parametrize("end", sorted(TASK_DONE), ids=str)
def test_a_task_that_ran_and_ended_stops_its_clock(end: TaskStatus) -> None:
    progress = Progress(Console(file=io.StringIO()), "run")
    task = Task("fit", TaskStatus.RUNNING)
    progress("task", task)
    assert progress.rows["fit"]["finished"] is None

    task.status = end
    progress("task", task)

    row = progress.rows["fit"]
    assert row["finished"] is not None, f"a {end} task's time kept counting"
    assert row["finished"] >= row["started"]


def test_a_task_up_for_retry_keeps_its_clock_for_the_next_attempt() -> None:
    progress = Progress(Console(file=io.StringIO()), "run")
    task = Task("fit", TaskStatus.RUNNING)
    progress("task", task)
    task.status = TaskStatus.UP_FOR_RETRY
    progress("task", task)

    assert progress.rows["fit"]["finished"] is None
