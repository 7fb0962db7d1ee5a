"""Pipelines that notify: deadlines and per-task notifications (tests/engine).

Callable targets run in a child process of the notification sender, so ``record``
appends what it receives to the file ``clear_events()`` names, and ``events()`` reads it
back. Pipelines whose targets need a URL known only at test time are built by functions
taking that URL.
"""

from __future__ import annotations

import json
import os
import tempfile
from types import SimpleNamespace
from typing import Any

from headwater import ParallelFor, Webhook, component, pipeline
from headwater.sdk import Notify, Pipeline

TASK_EVENTS = ("success", "failure", "retry")
_EVENTS_FILE = "HEADWATER_TEST_EVENTS"


def clear_events() -> None:
    """Start a new record (the sender's child processes inherit where it is)."""
    fd, path = tempfile.mkstemp(prefix="events-", suffix=".jsonl")
    os.close(fd)
    os.environ[_EVENTS_FILE] = path


def events() -> list[Any]:
    """The events ``record`` received, in order, with the pid of the process it ran in."""
    with open(os.environ[_EVENTS_FILE]) as f:
        return [SimpleNamespace(**json.loads(line)) for line in f]


def record(event: Any) -> None:
    with open(os.environ[_EVENTS_FILE], "a") as f:
        f.write(json.dumps({**vars(event), "pid": os.getpid()}) + "\n")


def explode(event: Any) -> None:
    raise RuntimeError("this notifier is broken")


def calls(func: Any, *on: str) -> Notify:
    """A callable target listening for ``on``."""
    return Notify("callable", f"{func.__module__}:{func.__qualname__}", on)


@component
def wait_file(release: str) -> str:
    """Run until the file ``release`` exists (at most 30 s)."""
    import time
    from pathlib import Path

    give_up = time.time() + 30
    while not Path(release).exists():
        if time.time() > give_up:
            raise RuntimeError(f"{release} never appeared")
        time.sleep(0.02)
    return "released"


@component
def quick() -> int:
    return 1


@component(retries=1, notify=[calls(record, *TASK_EVENTS)])
def shaky(counter_dir: str, name: str) -> int:
    """Fail the first attempt, succeed on the retry."""
    from pathlib import Path

    marker = Path(counter_dir) / f"{name}.failed-once"
    if not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        raise RuntimeError(f"{name} fails its first attempt")
    return 1


@component(notify=[calls(record, *TASK_EVENTS)])
def broken() -> int:
    raise RuntimeError("broken on purpose")


@component(notify=[calls(explode, *TASK_EVENTS), calls(record, *TASK_EVENTS)])
def fine_but_badly_watched() -> int:
    return 1


@component(notify=[calls(record, *TASK_EVENTS)])
def watched() -> int:
    return 1


@pipeline
def notify_missing_pool():
    watched().set_pool("nowhere")


def with_deadline(url: str, deadline: Any) -> Pipeline:
    targets = [
        Webhook(f"{url}/deadline", on=["deadline_missed"]),
        calls(record, "deadline_missed"),
    ]

    @pipeline(name="notify_deadline", deadline=deadline, notify=targets)
    def notify_deadline(release: str):
        wait_file(release=release)

    return notify_deadline


def with_task_targets(url: str) -> Pipeline:
    @pipeline(name="notify_tasks")
    def notify_tasks(counter_dir: str):
        shaky(counter_dir=counter_dir, name="top")
        with ParallelFor([0]):
            shaky(counter_dir=counter_dir, name="looped")
        broken()
        broken().set_options(notify=[])  # silenced for this task only
        quick().set_options(notify=[Webhook(f"{url}/task", on=list(TASK_EVENTS))])

    return notify_tasks


def with_failing_targets(dead_url: str) -> Pipeline:
    @pipeline(name="notify_failing_targets")
    def notify_failing_targets():
        fine_but_badly_watched()
        fine_but_badly_watched().set_options(
            notify=[
                calls(explode, *TASK_EVENTS),
                Webhook(f"{dead_url}/hook", on=["success"]),
                calls(record, *TASK_EVENTS),
            ]
        )

    return notify_failing_targets
