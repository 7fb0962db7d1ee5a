"""Schedules edited through the API up to the end of the calendar.

The server here is ``headwater server`` (no scheduler in it): the scheduler pass is run
by the test itself, on the same database, so that what it does with a schedule the API
accepted is seen directly (and a failing pass cannot disturb other tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from server_helpers import Standalone, home_of, run_cli, start_standalone

from headwater.engine import Workspace, deploy
from headwater.scheduler import tick
from headwater.sdk import compile_root, load_pipeline

API = "/api/v1"
PIPELINES = """
from headwater import component, pipeline


@component
def stamp(day: str) -> str:
    return day


@pipeline(schedule="@hourly", start_date="2024-01-01")
def limits_far(day: str = "{{ ds }}"):
    stamp(day=day)


@pipeline(schedule="@hourly", start_date="2024-01-01")
def limits_hourly(day: str = "{{ ds }}"):
    stamp(day=day)
"""
# A yearly cron whose first interval would end in the year 10000: it never runs, so
# PATCH refuses it; stored by an older version (or by hand), it must not break anything.
LAST_YEAR = {"cron": "0 0 1 1 *", "start_date": "9999-12-31T12:00:00Z"}
LAST_YEAR_STORED = {
    "schedule": {"kind": "cron", "cron": "0 0 1 1 *", "timezone": "UTC"},
    "start_date": "9999-12-31T12:00:00+00:00",
}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Standalone, Workspace]]:
    folder = tmp_path_factory.mktemp("limits")
    home, env = home_of(folder)
    made = run_cli(env, "users", "create", "limits", "--role", "admin")
    assert made.returncode == 0, made.stderr
    (folder / "limits_pipelines.py").write_text(PIPELINES)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HEADWATER_HOME", str(home))
        mp.delenv("HEADWATER_DATABASE_URL", raising=False)
        ws = Workspace.open()
    for name in ("limits_far", "limits_hourly"):
        with compile_root(str(folder)):
            spec = load_pipeline(f"{folder / 'limits_pipelines.py'}:{name}").compile()
        deploy(ws, spec, str(folder))
    with start_standalone(folder, command="server", token=made.stdout.split()[-1]) as server:
        yield server, ws
    ws.close()


def test_an_edit_that_would_first_run_after_the_year_9999_is_refused(
    api: tuple[Standalone, Workspace],
) -> None:
    server, _ = api
    before = server.http.get(f"{API}/schedules/limits_far").json()
    r = server.http.patch(f"{API}/schedules/limits_far", json=LAST_YEAR)
    assert r.status_code == 422, r.text
    assert "cannot be laid out" in r.json()["error"] and r.json()["hint"]
    after = server.http.get(f"{API}/schedules/limits_far").json()
    assert after["overrides"] == before["overrides"] and after["cron"] == "@hourly"


def test_a_stored_schedule_past_the_year_9999_has_no_next_run(
    api: tuple[Standalone, Workspace],
) -> None:
    server, ws = api
    ws.store.schedules.set_schedule_overrides("limits_far", LAST_YEAR_STORED)
    try:
        r = server.http.get(f"{API}/schedules/limits_far")
        assert r.status_code == 200, r.text
        assert r.json()["next_start"] is None and r.json()["next_end"] is None
        listed = server.http.get(f"{API}/schedules")
        assert listed.status_code == 200, listed.text
        assert {s["pipeline"] for s in listed.json()} == {"limits_far", "limits_hourly"}
        pipelines = server.http.get(f"{API}/pipelines")
        assert pipelines.status_code == 200, pipelines.text
        window = {"start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z"}
        backfill = server.http.post(f"{API}/schedules/limits_far/backfills", json=window)
        assert backfill.status_code == 422, backfill.text
        assert "cannot be laid out" in backfill.json()["error"] and backfill.json()["hint"]
    finally:
        ws.store.schedules.set_schedule_overrides("limits_far", {})


def test_a_schedule_that_cannot_advance_does_not_stop_the_others(
    api: tuple[Standalone, Workspace],
) -> None:
    _, ws = api
    ws.store.schedules.set_schedule_overrides("limits_far", LAST_YEAR_STORED)
    try:
        created = tick(ws, datetime.now(UTC))
        assert [r.pipeline for r in created] == ["limits_hourly"]
    finally:
        ws.store.schedules.set_schedule_overrides("limits_far", {})
