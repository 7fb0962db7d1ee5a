"""A pass creates the runs of many schedules together; a schedule another scheduler got to
first is left to it, and the others still get their runs, once each.

On SQLite and PostgreSQL (see store_backends.py).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest
import store_backends

from headwater.engine import Workspace, deploy
from headwater.scheduler import tick
from headwater.sdk import compile_root, load_pipeline
from headwater.store import DueRun, ScheduleRaceLost, ScheduleRecord, new_id
from headwater.store import _schema as t

# Fixtures: every test taking ``ws`` runs on SQLite and on PostgreSQL.
ws = store_backends.ws
postgres_url = store_backends.postgres_url

SOURCE = """
from headwater import component, pipeline


@component
def work() -> int:
    return 1


@pipeline(schedule="0 * * * *", start_date="2026-01-01T00:00:00+00:00", catchup=True)
def {name}():
    work()
"""

NAMES = ("alpha", "beta", "gamma")
_n = itertools.count()


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, 1, hour, minute, tzinfo=UTC)


def deployed(ws: Workspace, tmp_path: Path) -> None:
    for name in NAMES:
        module = f"chunked_{name}_{next(_n)}"  # module names are unique in the process
        folder = tmp_path / module
        folder.mkdir()
        path = folder / f"{module}.py"
        path.write_text(SOURCE.format(name=name))
        with compile_root(str(folder)):
            spec = load_pipeline(f"{path}:{name}").compile()
        deploy(ws, spec, str(folder))


def hours(ws: Workspace) -> dict[str, list[int]]:
    """Each pipeline's scheduled runs, by the hour their interval starts, in creation order."""
    found: dict[str, list[int]] = {name: [] for name in NAMES}
    runs = sorted(ws.store.runs.list_runs(limit=100), key=lambda r: (r.created_at, r.id))
    for run in runs:
        assert run.data_interval_start is not None
        found[run.pipeline].append(run.data_interval_start.hour)
    return found


def test_a_pass_creates_every_schedules_runs_once_oldest_first(
    ws: Workspace, tmp_path: Path
) -> None:
    deployed(ws, tmp_path)
    made = tick(ws, at(2, 30))
    assert sorted((r.pipeline, r.data_interval_start.hour) for r in made) == [
        (name, hour) for name in NAMES for hour in (0, 1)
    ]
    # Runs are claimed in creation order: a catchup's intervals were created oldest first.
    assert hours(ws) == {name: [0, 1] for name in NAMES}
    assert tick(ws, at(2, 30)) == []
    assert {name: s.last_end for name, s in schedules(ws).items()} == dict.fromkeys(NAMES, at(2))


def schedules(ws: Workspace) -> dict[str, ScheduleRecord]:
    return {s.pipeline: s for s in ws.store.schedules.list()}


def test_schedules_moved_together_are_refused_whole_when_one_was_moved_first(
    ws: Workspace, tmp_path: Path
) -> None:
    deployed(ws, tmp_path)
    stale = ws.store.schedules.list()  # both schedulers read the schedules...
    versions = {s.pipeline: ws.store.pipelines.get_version(s.version_id) for s in stale}

    def due(hour: int) -> list[DueRun]:
        return [DueRun(new_id(), {}, at(hour), at(hour + 1))]

    beta = next(s for s in stale if s.pipeline == "beta")
    assert len(ws.store.schedules.create_scheduled_runs([(beta, versions["beta"], due(0))])) == 1
    # ...the other, moving all three from what it read, writes nothing at all.
    with pytest.raises(ScheduleRaceLost):
        ws.store.schedules.create_scheduled_runs([(s, versions[s.pipeline], due(0)) for s in stale])
    assert hours(ws) == {"alpha": [], "beta": [0], "gamma": []}
    # Its next pass reads the schedules again and creates what is still missing, once.
    tick(ws, at(2, 30))
    assert hours(ws) == {name: [0, 1] for name in NAMES}


def test_a_run_created_first_elsewhere_spoils_only_its_own_schedule(
    ws: Workspace, tmp_path: Path
) -> None:
    """A run row another scheduler wrote (its schedule move not committed yet) makes the
    chunk's insert fail: the pass starts that chunk again one schedule at a time."""
    deployed(ws, tmp_path)
    beta = schedules(ws)["beta"]
    version = ws.store.pipelines.get_version(beta.version_id)
    with ws.store.engine.begin() as conn:
        conn.execute(
            t.runs.insert(),
            {
                "id": new_id(),
                "namespace": ws.store.namespace,
                "pipeline_id": version.pipeline_id,
                "version_id": version.id,
                "status": "queued",
                "parameters": {},
                "trigger": "schedule",
                "cache_enabled": True,
                "created_at": at(0),
                "data_interval_start": at(0),
                "data_interval_end": at(1),
                "confined": True,
                "experiment": "beta",
            },
        )
    made = tick(ws, at(2, 30))
    assert sorted((r.pipeline, r.data_interval_start.hour) for r in made) == [
        ("alpha", 0),
        ("alpha", 1),
        ("gamma", 0),
        ("gamma", 1),
    ]
    assert hours(ws) == {"alpha": [0, 1], "beta": [0], "gamma": [0, 1]}
