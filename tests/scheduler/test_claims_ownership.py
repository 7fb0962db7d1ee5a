"""Who drives a run: claims, heartbeats and releases in the store, on SQLite and
PostgreSQL (see store_backends.py). Clock values are passed in, never waited for."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import store_backends

from headwater.engine import Workspace
from headwater.states import RunStatus
from headwater.store import RunRecord

# Fixtures: every test taking ``ws`` runs on SQLite and on PostgreSQL.
ws = store_backends.ws
postgres_url = store_backends.postgres_url

PAST = datetime(2000, 1, 1, tzinfo=UTC)


def queued(ws: Workspace, *, trigger: str = "api", owner: str | None = None) -> RunRecord:
    version = ws.store.pipelines.register_version(
        "claimed", None, "sha256:claimed", {"name": "c"}, None
    )
    return ws.store.runs.create_run(version, {}, trigger=trigger, owner=owner)


def test_claim_run_takes_an_unowned_run_keeps_its_owner_and_adopts_only_a_stale_one(
    ws: Workspace,
) -> None:
    run = queued(ws)
    assert run.engine_id is None and run.heartbeat_at is None

    assert ws.store.control.claim_run(run.id, "a")  # unowned
    first = ws.store.runs.get_run(run.id)
    assert first.engine_id == "a" and first.heartbeat_at is not None
    assert ws.store.control.claim_run(run.id, "a")  # its own again: refreshes the heartbeat
    beat = ws.store.runs.get_run(run.id).heartbeat_at
    assert beat is not None and beat >= first.heartbeat_at

    assert not ws.store.control.claim_run(run.id, "b")  # someone else's
    assert not ws.store.control.claim_run(run.id, "b", stale_before=beat - timedelta(seconds=1))
    assert ws.store.runs.get_run(run.id).engine_id == "a"
    assert ws.store.control.claim_run(run.id, "b", stale_before=beat + timedelta(seconds=1))
    assert ws.store.runs.get_run(run.id).engine_id == "b"


def test_heartbeat_tells_an_engine_it_lost_its_run_or_that_a_cancel_was_asked(
    ws: Workspace,
) -> None:
    run = queued(ws, owner="a")
    assert ws.store.control.heartbeat(run.id, "a") == (True, False)
    assert ws.store.control.claim_run(
        run.id, "b", stale_before=datetime.now(UTC) + timedelta(hours=1)
    )
    assert ws.store.control.heartbeat(run.id, "a") == (False, False)  # the old engine must stop
    assert ws.store.control.heartbeat(run.id, "b") == (True, False)

    # A run that an engine drives is cancelled by asking that engine.
    assert ws.store.control.request_cancel(run.id) is RunStatus.QUEUED
    assert ws.store.control.heartbeat(run.id, "b") == (True, True)


def test_only_the_owner_releases_a_run_and_a_released_run_is_claimable(ws: Workspace) -> None:
    run = queued(ws, owner="a")
    ws.store.control.release_run(run.id, "b")
    assert ws.store.runs.get_run(run.id).engine_id == "a"
    ws.store.control.release_run(run.id, "a")
    released = ws.store.runs.get_run(run.id)
    assert released.engine_id is None and released.heartbeat_at is None
    assert ws.store.control.claim_runs("c", PAST, 10) == [run.id]


def test_schedulers_claim_queued_and_stale_runs_but_not_cli_runs_or_fresh_ones(
    ws: Workspace,
) -> None:
    free = queued(ws)
    cli = queued(ws, trigger="manual")  # its CLI process drives it
    stale = queued(ws, owner="dead")
    driven = queued(ws, owner="alive")  # its heartbeat is newer than stale's
    cut_off = ws.store.runs.get_run(driven.id).heartbeat_at
    assert cut_off is not None

    claimed = ws.store.control.claim_runs("sched", cut_off, 10)

    assert sorted(claimed) == sorted([free.id, stale.id])
    owners = {r.id: ws.store.runs.get_run(r.id).engine_id for r in (free, cli, stale, driven)}
    assert owners == {free.id: "sched", cli.id: None, stale.id: "sched", driven.id: "alive"}
    assert ws.store.control.claim_runs("other", PAST, 10) == []  # what is left is driven


def test_schedulers_claiming_at_once_never_claim_the_same_run(ws: Workspace) -> None:
    runs = {queued(ws).id for _ in range(12)}
    others = [Workspace.open() for _ in range(3)]
    try:
        start = threading.Barrier(4)
        claimed: dict[str, list[str]] = {}

        def scheduler(name: str, w: Workspace) -> None:
            start.wait()
            claimed[name] = w.store.control.claim_runs(name, PAST, 12)

        threads = [
            threading.Thread(target=scheduler, args=(f"s{i}", w))
            for i, w in enumerate([ws, *others])
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        for w in others:
            w.close()

    every = [rid for ids in claimed.values() for rid in ids]
    assert sorted(every) == sorted(runs), claimed  # each run once, none left out
    for name, ids in claimed.items():
        assert all(ws.store.runs.get_run(rid).engine_id == name for rid in ids)
