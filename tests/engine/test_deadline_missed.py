"""A run still going past its pipeline's deadline: one deadline_missed notification.

The slow run's task does not sleep past the deadline: it runs until the test has seen
the run marked as late, so the deadline is passed for certain and the test waits no
longer than it must.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import notify_flow
import pytest
from engine_helpers import wait_for
from notify_receiver import Receiver, http_receiver

import headwater
from headwater.engine import Run, Workspace
from headwater.states import RunStatus


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    notify_flow.clear_events()
    with http_receiver() as r:
        yield r


def test_a_run_past_its_deadline_notifies_once_and_records_when(
    workspace: Workspace, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWATER_HEARTBEAT_SECONDS", "0.05")
    late = notify_flow.with_deadline(receiver.url, deadline=0.2)
    release = tmp_path / "release"
    finished: list[Run] = []
    thread = threading.Thread(
        target=lambda: finished.append(headwater.run(late, release=str(release))), daemon=True
    )
    thread.start()
    try:
        wait_for(
            lambda: any(r.deadline_missed_at for r in workspace.store.runs.list_runs()),
            20,
            "the run to be marked as past its deadline",
        )
        # Let the engine go round its loop a few more times past the deadline.
        (late_run,) = workspace.store.runs.list_runs()
        assert late_run.deadline_missed_at is not None
        missed: datetime = late_run.deadline_missed_at
        beats: set[datetime] = set()

        def beats_after_the_miss() -> bool:
            beat = workspace.store.runs.get_run(late_run.id).heartbeat_at
            if beat is not None and beat > missed:
                beats.add(beat)
            return len(beats) >= 3

        wait_for(beats_after_the_miss, 20, "three heartbeats after the deadline")
        assert finished == [], "the run ended before its task was released"
    finally:
        release.touch()
        thread.join(30)

    (run,) = finished
    assert run.status is RunStatus.SUCCEEDED
    record = workspace.store.runs.get_run(run.id)
    assert record.deadline_missed_at is not None and record.finished_at is not None
    assert record.created_at < record.deadline_missed_at < record.finished_at
    (hook,) = receiver.bodies("/deadline")
    assert hook["kind"] == "deadline_missed"
    assert hook["run_id"] == run.id and hook["pipeline"] == "notify_deadline"
    assert hook["status"] == "running" and hook["task"] is None
    assert "did not finish within 0.2s" in hook["error"]
    assert [(e.kind, e.run_id) for e in notify_flow.events()] == [("deadline_missed", run.id)]
    assert len(receiver.posts) == 1


def test_a_run_that_ends_within_its_deadline_sends_nothing(
    workspace: Workspace, receiver: Receiver, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    release.touch()  # nothing to wait for
    run = headwater.run(
        notify_flow.with_deadline(receiver.url, deadline="1h"), release=str(release)
    )

    assert run.status is RunStatus.SUCCEEDED
    assert workspace.store.runs.get_run(run.id).deadline_missed_at is None
    assert receiver.posts == []
    assert notify_flow.events() == []
