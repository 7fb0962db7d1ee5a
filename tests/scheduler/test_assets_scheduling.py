"""Asset-triggered runs, with time passed to tick() rather than waited for.

The tick-level tests record asset events through the store, each from its own producer
run, task attempt and artifact, and run on SQLite and PostgreSQL alike (see
store_backends.py). The end-to-end test runs real producer pipelines and drives the run they
trigger with a scheduler's Runner.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import store_backends
from store_backends import use_home

import headwater
from headwater.engine import Workspace, deploy
from headwater.scheduler import Runner, tick
from headwater.sdk import compile_root, load_module
from headwater.states import RunStatus, TaskStatus
from headwater.store import NewArtifact, RunRecord

# Fixtures: every test taking ``ws`` runs on SQLite and on PostgreSQL.
ws = store_backends.ws
postgres_url = store_backends.postgres_url

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
flow: Any = load_module(PIPELINES / "assets_flow.py")
A, B = "warehouse://a", "warehouse://b"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # asset schedules do not look at the clock
_labels = itertools.count()


@pytest.fixture
def local_ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    use_home(tmp_path, monkeypatch)
    opened = Workspace.open()
    yield opened
    opened.close()


def deployed(ws: Workspace, pipeline: Any) -> str:
    with compile_root(str(PIPELINES)):
        spec = pipeline.compile()
    deploy(ws, spec, str(PIPELINES))
    return str(spec.name)


def update(ws: Workspace, asset: str) -> int:
    """An update of ``asset`` by a producer run's succeeded attempt and its artifact."""
    label = f"producer-{next(_labels)}"
    version = ws.store.pipelines.register_version(
        label, None, f"sha256:{label}", {"name": label}, None
    )
    run = ws.store.runs.create_run(version, {})
    task = ws.store.tasks.add_task_run(
        run.id, "produce", "produce", "produce", 1, TaskStatus.SUCCEEDED
    )
    artifact = ws.store.lineage.add_artifact(
        NewArtifact("out", "headwater.Dataset", f"file:///{label}/out", None, None), run.id
    )
    (event,) = ws.store.assets.record_asset_events(run.id, task.id, [(asset, artifact.id)])
    return event


def triggered(ws: Workspace, event: int) -> tuple[str, ...]:
    (found,) = [e for e in ws.store.assets.asset_events(limit=1000) if e.id == event]
    return found.triggered


def finish(ws: Workspace, run: RunRecord) -> None:
    ws.store.runs.set_run_status(run.id, RunStatus.QUEUED, RunStatus.RUNNING)
    ws.store.runs.set_run_status(run.id, RunStatus.RUNNING, RunStatus.SUCCEEDED)


# --------------------------------------------------------------------------- all-of, any-of


def test_all_of_runs_once_every_asset_was_updated_and_then_waits_for_all_again(
    ws: Workspace,
) -> None:
    name = deployed(ws, flow.assets_all)
    a1 = update(ws, A)
    assert tick(ws, NOW) == []
    a2 = update(ws, A)
    assert tick(ws, NOW) == [], "two updates of one asset are not all of them"
    b1 = update(ws, B)

    (run,) = tick(ws, NOW)
    assert run.pipeline == name and run.trigger == "asset" and run.status is RunStatus.QUEUED
    assert [triggered(ws, e) for e in (a1, a2, b1)] == [(run.id,)] * 3
    assert tick(ws, NOW) == []  # those events are used up

    b2 = update(ws, B)
    assert tick(ws, NOW) == []
    a3 = update(ws, A)
    (again,) = tick(ws, NOW)
    assert again.id != run.id
    assert [triggered(ws, e) for e in (b2, a3)] == [(again.id,)] * 2
    assert [r.id for r in ws.store.runs.list_runs(pipeline=name)] == [again.id, run.id]


def test_any_of_runs_at_the_tick_after_either_asset_is_updated(ws: Workspace) -> None:
    name = deployed(ws, flow.assets_any)
    assert tick(ws, NOW) == []
    a1 = update(ws, A)
    (first,) = tick(ws, NOW)
    assert triggered(ws, a1) == (first.id,)
    assert tick(ws, NOW) == []

    b1 = update(ws, B)
    (second,) = tick(ws, NOW)
    assert triggered(ws, b1) == (second.id,)

    a2, b2 = update(ws, A), update(ws, B)
    (third,) = tick(ws, NOW)  # one run for both updates since the last tick
    assert triggered(ws, a2) == triggered(ws, b2) == (third.id,)
    assert len(ws.store.runs.list_runs(pipeline=name)) == 3


def test_updates_made_before_the_consumer_was_deployed_do_not_trigger_it(
    ws: Workspace,
) -> None:
    early = [update(ws, A), update(ws, B)]
    deployed(ws, flow.assets_all)
    assert tick(ws, NOW) == []
    assert [triggered(ws, e) for e in early] == [(), ()]

    late = [update(ws, A), update(ws, B)]
    (run,) = tick(ws, NOW)
    assert [triggered(ws, e) for e in early + late] == [(), (), (run.id,), (run.id,)]


def test_a_paused_consumer_gets_no_run_until_it_is_unpaused(ws: Workspace) -> None:
    name = deployed(ws, flow.assets_any)
    ws.store.schedules.set_paused(name, True)
    event = update(ws, A)
    assert tick(ws, NOW) == []
    assert tick(ws, NOW) == []
    assert ws.store.runs.list_runs(pipeline=name) == []

    ws.store.schedules.set_paused(name, False)
    (run,) = tick(ws, NOW)  # the asset was updated since its last asset-triggered run
    assert triggered(ws, event) == (run.id,)


def test_max_active_runs_holds_asset_runs_back_until_the_active_one_ends(
    ws: Workspace,
) -> None:
    name = deployed(ws, flow.assets_any_one_at_a_time)
    update(ws, A)
    (first,) = tick(ws, NOW)
    held = update(ws, B)
    assert tick(ws, NOW) == []
    assert triggered(ws, held) == ()

    finish(ws, first)
    (second,) = tick(ws, NOW)
    assert triggered(ws, held) == (second.id,)
    assert len(ws.store.runs.list_runs(pipeline=name)) == 2


# --------------------------------------------------------------------------- racing schedulers


def ticks_at_once(schedulers: list[Workspace]) -> list[RunRecord]:
    """Every scheduler ticks at the same moment, each in its own thread; all they created."""
    start = threading.Barrier(len(schedulers))
    created: list[list[RunRecord]] = [[] for _ in schedulers]

    def scheduler(i: int) -> None:
        start.wait()
        created[i] = tick(schedulers[i], NOW)

    threads = [threading.Thread(target=scheduler, args=(i,)) for i in range(len(schedulers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return [run for runs in created for run in runs]


def test_two_schedulers_ticking_at_once_create_the_asset_run_once(ws: Workspace) -> None:
    name = deployed(ws, flow.assets_all)
    other = Workspace.open()  # a second scheduler on the same database
    try:
        for round_ in range(5):
            update(ws, A)
            update(ws, B)
            made = ticks_at_once([ws, other])
            assert len(made) == 1, f"round {round_}: {made}"
            assert len(ws.store.runs.list_runs(pipeline=name)) == round_ + 1
    finally:
        other.close()


def test_a_scheduler_with_a_stale_cursor_loses_to_the_one_that_moved_it(ws: Workspace) -> None:
    name = deployed(ws, flow.assets_all)
    events = [update(ws, A), update(ws, B)]
    stale = ws.store.schedules.get_schedule(name)  # both schedulers read the schedule...
    args = (stale.pipeline_id, stale.version_id, stale.asset_cursor, max(events), events, {})
    assert ws.store.assets.create_asset_run(*args, (NOW, NOW), "run-one", experiment=name)
    # ...the second loses on the moved cursor, whatever interval it computed.
    later = NOW + timedelta(seconds=1)
    assert not ws.store.assets.create_asset_run(*args, (later, later), "run-two", experiment=name)
    assert [r.id for r in ws.store.runs.list_runs(pipeline=name)] == ["run-one"]
    assert [triggered(ws, e) for e in events] == [("run-one",)] * 2
    assert ws.store.schedules.get_schedule(name).asset_cursor == max(events)


# --------------------------------------------------------------------------- end to end


def test_real_producers_trigger_the_consumer_and_it_runs(local_ws: Workspace) -> None:
    ws = local_ws
    name = deployed(ws, flow.assets_all)
    made_a = headwater.run(flow.assets_make_a)
    assert made_a.succeeded, made_a.tasks
    assert tick(ws, NOW) == []
    made_b = headwater.run(flow.assets_make_b)
    assert made_b.succeeded, made_b.tasks

    events = {e.asset: e for e in ws.store.assets.asset_events()}
    assert set(events) == {A, B}
    for asset, made, path in ((A, made_a, "produce_a"), (B, made_b, "produce")):
        event = events[asset]
        assert event.run_id == made.id
        assert event.task_run_id == made.task(path).id
        assert event.artifact_id == made.outputs(path)["out"].record.id
        assert event.triggered == ()

    (run,) = tick(ws, NOW)
    assert {e.asset: e.triggered for e in ws.store.assets.asset_events()} == {
        A: (run.id,),
        B: (run.id,),
    }
    assert (run.data_interval_start, run.data_interval_end) == (
        events[A].created_at,
        events[B].created_at,
    )

    runner = Runner(ws, stale_after=60)
    try:
        assert runner.poll() == [run.id]
        runner.wait(60)
    finally:
        runner.close()
    done = ws.store.runs.get_run(run.id)
    assert done.status is RunStatus.SUCCEEDED, done.error
    assert [t.status for t in ws.store.tasks.task_runs(run.id)] == [TaskStatus.SUCCEEDED]
    assert ws.store.runs.list_runs(pipeline=name)[0].id == run.id
