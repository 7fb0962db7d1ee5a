"""The pipeline of the fault-injection suite (tests/faults): 50 tiny tasks.

``source`` makes the items, ``work`` runs once per item (48 tasks, each writing a small
dataset), and ``fan_in`` reads every dataset and adds them up, so its output proves
that every ``work`` output reached it.

Every task body appends a line to ``marks.log`` in the folder ``marks`` when it starts
and when it ends: run id, task path, attempt, pid and ``start`` or ``end``. The suite
counts executions from that file, not only from the store. A task whose path is in
``hold`` waits, on its first attempt, until the file ``release-<path>`` exists in
``marks`` (at most a minute): the suite injects its faults while that task is in flight.
"""

from __future__ import annotations

from headwater import Collected, Dataset, Input, Output, ParallelFor, component, pipeline

WORK_ITEMS = 48


def _note(marks: str, event: str) -> None:
    import os

    line = " ".join(
        [
            os.environ["HEADWATER_RUN_ID"],
            os.environ["HEADWATER_TASK"],
            os.environ["HEADWATER_ATTEMPT"],
            str(os.getpid()),
            event,
        ]
    )
    with open(os.path.join(marks, "marks.log"), "a") as f:
        f.write(line + "\n")


def _begin(marks: str, hold: list[str]) -> None:
    import os
    import time

    _note(marks, "start")
    task = os.environ["HEADWATER_TASK"]
    if task in hold and os.environ["HEADWATER_ATTEMPT"] == "1":
        release = os.path.join(marks, f"release-{task}")
        deadline = time.time() + 60
        while not os.path.exists(release) and time.time() < deadline:
            time.sleep(0.02)


@component(retries=1, retry_delay=0)
def source(marks: str, hold: list[str], n: int) -> list[int]:
    _begin(marks, hold)
    items = list(range(1, n + 1))
    _note(marks, "end")
    return items


@component(retries=1, retry_delay=0)
def work(marks: str, hold: list[str], item: int, part: Output[Dataset]) -> int:
    _begin(marks, hold)
    with open(part.path, "w") as f:
        f.write(str(item * item))
    _note(marks, "end")
    return item


@component(retries=1, retry_delay=0)
def fan_in(marks: str, hold: list[str], parts: Input[list[Dataset]]) -> int:
    _begin(marks, hold)
    total = 0
    for part in parts:
        with open(part.path) as f:
            total += int(f.read())
    _note(marks, "end")
    return total


@pipeline(cache=False)
def faults_flow(marks: str, hold: list[str] = [], n: int = WORK_ITEMS) -> None:  # noqa: B006
    items = source(marks=marks, hold=hold, n=n)
    with ParallelFor(items.output, name="items") as item:
        done = work(marks=marks, hold=hold, item=item)
    fan_in(marks=marks, hold=hold, parts=Collected(done.outputs["part"]))


def expected_total(n: int = WORK_ITEMS) -> int:
    """What ``fan_in`` returns when every ``work`` output reached it."""
    return sum(i * i for i in range(1, n + 1))
