"""One scheduler pass, with time passed in: which runs get created, for which intervals."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from headwater._limits import configure, limits
from headwater.engine import Workspace, deploy
from headwater.scheduler import tick
from headwater.sdk import compile_root, load_pipeline
from headwater.states import RunStatus

_n = itertools.count()

SOURCE = """
from headwater import component, pipeline


@component
def work(day: str) -> str:
    return day


@pipeline(schedule="0 * * * *", start_date="2026-01-01T00:00:00+00:00", catchup={catchup},
          max_active_runs={max_active})
def hourly(day: str = "{{{{ ds }}}}T{{{{ data_interval_start.strftime('%H') }}}}"):
    work(day=day)
"""


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, 1, hour, minute, tzinfo=UTC)


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    return Workspace.open()


def deployed(ws: Workspace, tmp_path: Path, *, catchup: bool = True, max_active: int = 16) -> str:
    name = f"sched_pipeline_{next(_n)}"
    folder = tmp_path / name
    folder.mkdir()
    path = folder / f"{name}.py"
    path.write_text(SOURCE.format(catchup=catchup, max_active=max_active))
    with compile_root(str(folder)):
        spec = load_pipeline(str(path)).compile()
    deploy(ws, spec, str(folder))
    return "hourly"


def intervals(runs: list) -> list[tuple[int, int]]:  # type: ignore[type-arg]
    return [(r.data_interval_start.hour, r.data_interval_end.hour) for r in runs]


def test_catchup_creates_every_ended_interval_once(ws: Workspace, tmp_path: Path) -> None:
    deployed(ws, tmp_path)
    first = tick(ws, at(3, 30))
    assert intervals(first) == [(0, 1), (1, 2), (2, 3)]
    assert all(r.trigger == "schedule" and r.status is RunStatus.QUEUED for r in first)
    assert [r.parameters["day"] for r in first] == [
        "2026-01-01T00",
        "2026-01-01T01",
        "2026-01-01T02",
    ]
    assert tick(ws, at(3, 59)) == []  # nothing new has ended
    assert intervals(tick(ws, at(4, 0))) == [(3, 4)]  # due exactly when its interval ends


def test_without_catchup_only_the_latest_ended_interval_runs(ws: Workspace, tmp_path: Path) -> None:
    deployed(ws, tmp_path, catchup=False)
    assert intervals(tick(ws, at(5, 10))) == [(4, 5)]
    assert intervals(tick(ws, at(9, 0))) == [(8, 9)]  # an outage skips the missed hours


def test_max_active_runs_holds_back_new_runs(ws: Workspace, tmp_path: Path) -> None:
    deployed(ws, tmp_path, max_active=1)
    (first,) = tick(ws, at(3, 30))
    assert intervals([first]) == [(0, 1)]
    assert tick(ws, at(3, 30)) == []
    ws.store.runs.set_run_status(first.id, RunStatus.QUEUED, RunStatus.RUNNING)
    ws.store.runs.set_run_status(first.id, RunStatus.RUNNING, RunStatus.SUCCEEDED)
    assert intervals(tick(ws, at(3, 30))) == [(1, 2)]


def test_a_paused_schedule_creates_nothing_until_unpaused(ws: Workspace, tmp_path: Path) -> None:
    name = deployed(ws, tmp_path)
    assert ws.store.schedules.set_paused(name, True).paused
    assert tick(ws, at(3, 30)) == []
    ws.store.schedules.set_paused(name, False)
    assert intervals(tick(ws, at(3, 30))) == [(0, 1), (1, 2), (2, 3)]


def test_two_schedulers_never_create_the_same_run(ws: Workspace, tmp_path: Path) -> None:
    name = deployed(ws, tmp_path)
    stale = ws.store.schedules.get_schedule(name)  # both schedulers read the schedule...
    version = ws.store.pipelines.get_version(stale.version_id)
    one = ws.store.schedules.create_scheduled_run(
        stale, version, {"day": "a"}, at(0), at(1), "run-a"
    )
    two = ws.store.schedules.create_scheduled_run(
        stale, version, {"day": "b"}, at(0), at(1), "run-b"
    )
    assert one is not None and two is None  # ...only the first creates the run
    assert [r.id for r in ws.store.runs.list_runs()] == ["run-a"]


def test_redeploying_moves_the_schedule_and_keeps_its_progress(
    ws: Workspace, tmp_path: Path
) -> None:
    name = deployed(ws, tmp_path)
    tick(ws, at(2, 0))
    before = ws.store.schedules.get_schedule(name)
    deployed(ws, tmp_path)  # new folder and module name: a new version of the pipeline
    after = ws.store.schedules.get_schedule(name)
    assert after.version_id != before.version_id
    assert (after.last_start, after.last_end) == (before.last_start, before.last_end)
    assert intervals(tick(ws, at(3, 0))) == [(2, 3)]


def test_editing_a_schedule_without_redeploying(ws: Workspace, tmp_path: Path) -> None:
    name = deployed(ws, tmp_path)
    version = ws.store.schedules.get_schedule(name).version_id
    # Every 30 minutes instead of hourly, from the same start.
    ws.store.schedules.set_schedule_overrides(
        name, {"schedule": {"kind": "cron", "cron": "*/30 * * * *", "timezone": "UTC"}}
    )
    runs = tick(ws, at(1, 10))
    assert [(r.data_interval_start.hour, r.data_interval_start.minute) for r in runs] == [
        (0, 0),
        (0, 30),
    ]
    assert ws.store.schedules.get_schedule(name).version_id == version  # no redeploy happened
    ws.store.schedules.set_schedule_overrides(name, {})  # back to the deployed hourly schedule
    assert intervals(tick(ws, at(3, 0))) == [(1, 2), (2, 3)]


def test_a_bad_edit_is_refused_like_a_compile_error(ws: Workspace, tmp_path: Path) -> None:
    from headwater.errors import HeadwaterError, ValidationError
    from headwater.scheduler import effective_spec
    from headwater.spec import from_data

    name = deployed(ws, tmp_path)
    spec = from_data(
        ws.store.pipelines.get_version(ws.store.schedules.get_schedule(name).version_id).spec
    )
    with pytest.raises(ValidationError, match="invalid schedule '61 \\* \\* \\* \\*'"):
        effective_spec(spec, {"schedule": {"kind": "cron", "cron": "61 * * * *"}})
    with pytest.raises(HeadwaterError, match="max_active_runs"):
        effective_spec(spec, {"max_active_runs": 0})


def test_a_long_catchup_is_spread_over_passes(ws: Workspace, tmp_path: Path) -> None:
    per_pass = limits().max_runs_per_pass
    assert per_pass == 100  # the default
    deployed(ws, tmp_path, max_active=1000)
    later = at(0, 0) + timedelta(hours=150)  # 150 hourly intervals have ended
    first = tick(ws, later)
    assert len(first) == per_pass  # one pass does not create thousands of runs at once
    second = tick(ws, later)
    assert len(second) == 150 - per_pass
    starts = [r.data_interval_start for r in first + second]
    assert starts == sorted(starts) and len(set(starts)) == 150
    assert tick(ws, later) == []


def test_the_runs_a_pass_creates_for_a_schedule_are_configurable(
    ws: Workspace, tmp_path: Path
) -> None:
    """HEADWATER_MAX_RUNS_PER_PASS (or --max-runs-per-pass) bounds each schedule's pass."""
    previous = configure(limits().replace(max_runs_per_pass=7))
    try:
        deployed(ws, tmp_path, max_active=1000)
        later = at(0, 0) + timedelta(hours=20)
        assert [len(tick(ws, later)) for _ in range(4)] == [7, 7, 6, 0]
    finally:
        configure(previous)
