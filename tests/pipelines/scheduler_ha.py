"""Pipelines for two schedulers sharing one database (tests/scheduler/test_ha_postgres.py).

Every task body appends a line to ``marks.log`` in the folder ``$HA_TEST_MARKS`` (set in
the schedulers' environment and allowed through to their tasks with
``HEADWATER_TASK_ENV_ALLOW``): run id, task path,
attempt, pid and ``start`` or ``end``. The tests count executions from that file,
not only from the store, so a task body that ran twice shows even if the store hid it.
A task sleeps ``seconds`` on its first attempt only: a lost attempt can be made to
outlive the adoption of its run while the attempt that replaces it ends at once.
"""

from __future__ import annotations

from datetime import timedelta

from headwater import component, pipeline


@component
def mark(label: str, seconds: float = 0.0) -> str:
    import os
    import time
    from pathlib import Path

    def note(event: str) -> None:
        line = " ".join(
            [
                os.environ["HEADWATER_RUN_ID"],
                os.environ["HEADWATER_TASK"],
                os.environ["HEADWATER_ATTEMPT"],
                str(os.getpid()),
                event,
            ]
        )
        with open(Path(os.environ["HA_TEST_MARKS"]) / "marks.log", "a") as f:
            f.write(line + "\n")

    note("start")
    if os.environ["HEADWATER_ATTEMPT"] == "1":
        time.sleep(seconds)
    note("end")
    return label


# The start date is moved to a few seconds ago by the test (headwater schedules set).
@pipeline(schedule=timedelta(seconds=1), start_date="2026-01-01", catchup=True, cache=False)
def ha_ticks(when: str = "{{ data_interval_start.isoformat() }}") -> None:
    first = mark(label=when, seconds=0.2)
    mark(label=first.output)


@pipeline(cache=False)
def ha_pair(label: str, seconds: float = 0.2) -> None:
    first = mark(label=label, seconds=seconds)
    mark(label=first.output)


@pipeline(cache=False)
def ha_fresh(label: str, seconds: float = 0.2) -> None:
    """ha_pair with its first task in a fresh interpreter instead of a forked worker."""
    first = mark(label=label, seconds=seconds).set_options(fresh_interpreter=True)
    mark(label=first.output)
