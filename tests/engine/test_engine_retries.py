"""Retries with exponential backoff, and crashes that fail cleanly and are retried."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import engine_failures
import pytest
from engine_helpers import attempts, module_home

import headwater
from headwater.engine import Run
from headwater.states import RunStatus, TaskStatus


def _stamps(folder: Path) -> list[float]:
    """The times the attempts of ``flaky`` wrote, in attempt order."""
    count = len(list(folder.glob("attempt-*")))
    return [float((folder / f"attempt-{n}").read_text()) for n in range(1, count + 1)]


def test_a_task_that_fails_twice_succeeds_on_its_third_attempt_after_growing_waits(
    tmp_path: Path,
) -> None:
    counter = tmp_path / "flaky"
    run = headwater.run(engine_failures.engine_flaky, counter_dir=str(counter), fail_times=2)

    assert run.status is RunStatus.SUCCEEDED
    rows = attempts(run, "flaky")
    assert [r.status for r in rows] == [
        TaskStatus.UP_FOR_RETRY,
        TaskStatus.UP_FOR_RETRY,
        TaskStatus.SUCCEEDED,
    ]
    assert [r.attempt for r in rows] == [1, 2, 3]
    assert run.outputs("flaky")["output"] == 3
    assert "flaky failure on attempt 1" in (rows[0].error or "")
    assert "flaky failure on attempt 2" in (rows[1].error or "")

    # retry_delay=0.2 s, retry_backoff=2: at least 0.2 s before attempt 2, 0.4 s before 3.
    for before, after, wait in ((rows[0], rows[1], 0.2), (rows[1], rows[2], 0.4)):
        assert before.finished_at is not None and after.started_at is not None
        gap = (after.started_at - before.finished_at).total_seconds()
        assert gap >= wait, f"attempt {after.attempt} started {gap:.3f}s after the last one"
    t1, t2, t3 = _stamps(counter)
    assert t2 - t1 >= 0.2
    assert t3 - t2 >= 0.4
    assert t3 - t2 > t2 - t1 + 0.1, "the wait did not grow between retries"


def test_a_task_that_exhausts_its_retries_fails_with_its_exception_and_traceback(
    tmp_path: Path,
) -> None:
    counter = tmp_path / "flaky"
    run = headwater.run(engine_failures.engine_flaky, counter_dir=str(counter), fail_times=99)

    assert run.status is RunStatus.FAILED
    rows = attempts(run, "flaky")
    assert [r.status for r in rows] == [TaskStatus.UP_FOR_RETRY] * 3 + [TaskStatus.FAILED]
    assert len(list(counter.glob("attempt-*"))) == 4
    error = rows[-1].error or ""
    assert "RuntimeError: flaky failure on attempt 4" in error
    assert "Traceback (most recent call last)" in error
    assert 'raise RuntimeError(f"flaky failure on attempt {n}")' in error
    assert run.record.error is not None and "flaky" in run.record.error


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """One run of four crashing tasks, shared by the crash tests (each crash costs a run)."""
    with module_home(tmp_path_factory, "crash-home"):
        yield headwater.run(engine_failures.engine_crashes, max_parallel=4)


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ("crash_abort", "killed by SIGABRT"),
        ("crash_segv", "killed by SIGSEGV"),
        ("crash_exit", "exited with code 3"),
        # Over its memory request a task gets a MemoryError, or is killed outright.
        ("crash_oom", r"MemoryError|out of memory|killed by SIGKILL"),
    ],
)
def test_a_crashing_task_fails_cleanly_and_is_retried_once(
    crashed: Run, task: str, message: str
) -> None:
    assert crashed.status is RunStatus.FAILED
    rows = attempts(crashed, task)
    assert [r.status for r in rows] == [TaskStatus.UP_FOR_RETRY, TaskStatus.FAILED]
    for row in rows:
        assert re.search(message, row.error or ""), row.error
        assert row.finished_at is not None
        assert row.pid is not None, "the attempt never had a process"
