"""Per-task notifications (``@component(notify=...)``, ``task.set_options(notify=...)``):
success, failure and retry reach the task's own targets with the task's path; a failing
target never fails the run."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import notify_flow
import pytest
from notify_receiver import Receiver, http_receiver

import headwater
from headwater.states import RunStatus, TaskStatus


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    notify_flow.clear_events()
    with http_receiver() as r:
        yield r


def test_task_events_reach_the_tasks_own_targets_with_the_task_path(
    receiver: Receiver, tmp_path: Path
) -> None:
    run = headwater.run(
        notify_flow.with_task_targets(receiver.url), counter_dir=str(tmp_path / "c")
    )

    assert run.status is RunStatus.FAILED  # broken and broken-2 fail
    assert run.tasks["shaky"].status is TaskStatus.SUCCEEDED
    assert run.tasks["loop-1[0].shaky-2"].status is TaskStatus.SUCCEEDED
    assert run.tasks["broken-2"].status is TaskStatus.FAILED
    seen = [(e.kind, e.task) for e in notify_flow.events()]
    assert sorted(seen) == sorted(
        [
            ("retry", "shaky"),
            ("success", "shaky"),
            ("retry", "loop-1[0].shaky-2"),
            ("success", "loop-1[0].shaky-2"),
            ("failure", "broken"),
        ]
    ), "broken-2 was silenced with set_options(notify=[])"
    for path in ("shaky", "loop-1[0].shaky-2"):
        assert seen.index(("retry", path)) < seen.index(("success", path))
    for event in notify_flow.events():
        assert event.pipeline == "notify_tasks" and event.run_id == run.id
    errors = {(e.kind, e.task): e.error or "" for e in notify_flow.events()}
    assert "top fails its first attempt" in errors[("retry", "shaky")]
    assert "broken on purpose" in errors[("failure", "broken")]
    assert errors[("success", "shaky")] == ""

    (hook,) = receiver.bodies("/task")  # the override's webhook, for quick only
    assert (hook["kind"], hook["task"], hook["run_id"]) == ("success", "quick", run.id)
    assert len(receiver.posts) == 1


def test_a_failing_task_notifier_is_logged_and_never_fails_the_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    notify_flow.clear_events()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # nothing listens here once the socket closes

    with caplog.at_level(logging.WARNING, logger="headwater.notify"):
        run = headwater.run(notify_flow.with_failing_targets(f"http://127.0.0.1:{dead}"))

    assert run.status is RunStatus.SUCCEEDED, run.tasks
    assert all(t.status is TaskStatus.SUCCEEDED for t in run.tasks.values())
    # The targets after a broken one still hear about it.
    assert sorted((e.kind, e.task) for e in notify_flow.events()) == [
        ("success", "fine_but_badly_watched"),
        ("success", "fine_but_badly_watched-2"),
    ]
    failures = [r.message for r in caplog.records if "failed" in r.message]
    assert sum("notification to callable notify_flow:explode" in m for m in failures) == 2
    assert sum("notification to webhook" in m for m in failures) == 1


def test_a_task_failed_for_a_missing_pool_notifies_its_failure() -> None:
    notify_flow.clear_events()
    run = headwater.run(notify_flow.notify_missing_pool)

    assert run.tasks["watched"].status is TaskStatus.FAILED
    assert [(e.kind, e.task) for e in notify_flow.events()] == [("failure", "watched")]
