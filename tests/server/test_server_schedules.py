"""Schedules through the API and the CLI's --server mode: list, edit the cron (checked,
nothing saved when refused), pause and unpause, and backfills that reprocess none,
failed or all intervals."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from server_helpers import Standalone

API = "/api/v1"
NAME = "server_hourly"
PIPELINE = """
from headwater import component, pipeline


@component
def stamp(hour: str, flags: str) -> str:
    import os

    if os.path.exists(os.path.join(flags, "fail-" + hour)):
        raise RuntimeError(f"hour {hour} is flagged to fail")
    return hour


@pipeline(schedule="@hourly", start_date="2024-01-01", catchup=False)
def server_hourly(hour: str = "{{ data_interval_start.strftime('%H') }}", flags: str = "FLAGS"):
    stamp(hour=hour, flags=flags)
"""


@pytest.fixture(scope="module")
def flags(server: Standalone, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """server_hourly deployed; a file ``fail-HH`` in the returned folder fails hour HH."""
    folder = tmp_path_factory.mktemp("hourly")
    source = folder / "server_hourly.py"
    source.write_text(PIPELINE.replace("FLAGS", str(folder / "flags")))
    (folder / "flags").mkdir()
    server.deploy(source)
    return folder / "flags"


def _schedule(server: Standalone) -> dict[str, Any]:
    r = server.http.get(f"{API}/schedules/{NAME}")
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def _patch(server: Standalone, **changes: Any) -> Any:
    return server.http.patch(f"{API}/schedules/{NAME}", json=changes)


def _settings(schedule: dict[str, Any]) -> dict[str, Any]:
    """What an edit changes; the rest (last and next interval) moves as the scheduler
    creates runs meanwhile."""
    moving = ("last_start", "last_end", "next_start", "next_end")
    return {k: v for k, v in schedule.items() if k not in moving}


def _span(schedule: dict[str, Any]) -> timedelta:
    start = datetime.fromisoformat(schedule["next_start"])
    return datetime.fromisoformat(schedule["next_end"]) - start


def test_schedules_are_listed_with_their_next_run(server: Standalone, flags: Path) -> None:
    listed = server.http.get(f"{API}/schedules").json()
    mine = [s for s in listed if s["pipeline"] == NAME]
    assert len(mine) == 1
    hourly = mine[0]
    assert (hourly["kind"], hourly["cron"], hourly["timezone"]) == ("cron", "@hourly", "UTC")
    assert hourly["paused"] is False and hourly["overrides"] is None
    assert _span(hourly) == timedelta(hours=1)
    assert _settings(hourly) == _settings(_schedule(server))


def test_editing_the_cron_takes_effect_and_a_bad_one_changes_nothing(
    server: Standalone, flags: Path
) -> None:
    r = _patch(server, cron="@daily")
    assert r.status_code == 200, r.text
    try:
        daily = r.json()
        assert daily["cron"] == "@daily" and daily["overrides"]["schedule"]["cron"] == "@daily"
        if daily["last_end"] is None:
            assert _span(daily) == timedelta(days=1)
        else:
            # The scheduler ran the hourly schedule before the edit: one shorter interval
            # bridges the old schedule's last end to the new one's next boundary.
            last_end = datetime.fromisoformat(daily["last_end"])
            assert datetime.fromisoformat(daily["next_start"]) == last_end
            assert timedelta(0) < _span(daily) <= timedelta(days=1)
        assert datetime.fromisoformat(daily["next_end"]).time().isoformat() == "00:00:00"
        assert _settings(_schedule(server)) == _settings(daily)

        for changes, says in [
            ({"cron": "* * *"}, "* * *"),
            ({"cron": "61 * * * *"}, "61 * * * *"),
            ({"timezone": "Mars/Olympus_Mons"}, "Mars/Olympus_Mons"),
            ({"cron": "@hourly", "interval_seconds": 60}, "not both"),
            ({"max_active_runs": 0}, "max_active_runs"),
            ({"interval_seconds": 1e300}, "interval_seconds"),
            ({"colour": "red"}, "colour"),
        ]:
            bad = _patch(server, **changes)
            assert 400 <= bad.status_code < 500 and bad.status_code != 404, (changes, bad.text)
            assert says in bad.json()["error"], (changes, bad.json())
            assert bad.json()["hint"], (changes, bad.json())
            assert _settings(_schedule(server)) == _settings(daily), changes
    finally:
        r = _patch(server, reset=True)
    assert r.status_code == 200, r.text
    assert r.json()["cron"] == "@hourly" and r.json()["overrides"] is None


def test_an_invalid_cron_is_422(server: Standalone, flags: Path) -> None:
    r = _patch(server, cron="* * *")
    assert r.status_code == 422, r.text
    assert "invalid schedule '* * *'" in r.json()["error"]


def test_an_unknown_schedule_is_404(server: Standalone) -> None:
    r = server.http.patch(f"{API}/schedules/nobody", json={"paused": True})
    assert r.status_code == 404 and "has no schedule" in r.json()["error"], r.text
    assert server.http.get(f"{API}/schedules/nobody").status_code == 404


def test_pause_and_unpause(server: Standalone, flags: Path) -> None:
    paused = _patch(server, paused=True)
    assert paused.status_code == 200, paused.text
    assert paused.json()["paused"] is True and paused.json()["next_start"] is None
    assert _schedule(server)["paused"] is True
    unpaused = _patch(server, paused=False)
    assert unpaused.json()["paused"] is False
    assert _span(unpaused.json()) == timedelta(hours=1)


def test_cli_schedules_against_the_server(server: Standalone, flags: Path) -> None:
    remote = ("--server", server.url, "--token", str(server.token))
    listed = server.cli("schedules", "list", *remote)
    assert listed.returncode == 0, listed.stderr
    assert f"schedules on {server.url}" in listed.stdout
    line = next(x for x in listed.stdout.splitlines() if NAME in x)
    assert "@hourly" in line and " no " in f" {line} "

    paused = server.cli("schedules", "pause", NAME, *remote)
    assert paused.returncode == 0 and f"{NAME} paused" in paused.stdout, paused.stderr
    assert _schedule(server)["paused"] is True
    unpaused = server.cli("schedules", "unpause", NAME, *remote)
    assert unpaused.returncode == 0, unpaused.stderr
    assert _schedule(server)["paused"] is False

    refused = server.cli("schedules", "list", "--server", server.url, "--token", "hw_nope")
    assert refused.returncode == 1
    assert "the token is not known (HTTP 401)" in refused.stderr


def _backfill(server: Standalone, reprocess: str) -> dict[str, Any]:
    r = server.http.post(
        f"{API}/schedules/{NAME}/backfills",
        json={
            "start": "2024-03-01T00:00:00Z",
            "end": "2024-03-01T03:00:00Z",
            "reprocess": reprocess,
        },
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _hours(runs: list[dict[str, Any]]) -> list[str]:
    return sorted(datetime.fromisoformat(r["data_interval_start"]).strftime("%H") for r in runs)


def test_backfills_reprocess_none_failed_or_all(server: Standalone, flags: Path) -> None:
    (flags / "fail-01").touch()
    first = _backfill(server, "none")
    assert first["trigger"].startswith("backfill-") and first["skipped"] == []
    assert _hours(first["runs"]) == ["00", "01", "02"]
    assert all(r["trigger"] == first["trigger"] for r in first["runs"])
    ended = {_hours([r])[0]: server.wait(r["id"]) for r in first["runs"]}
    assert {h: r["status"] for h, r in ended.items()} == {
        "00": "succeeded",
        "01": "failed",
        "02": "succeeded",
    }
    assert ended["02"]["parameters"]["hour"] == "02"
    assert ended["02"]["tasks"][0]["outputs"]["parameters"] == {"output": "02"}

    again = _backfill(server, "none")
    assert again["runs"] == [] and len(again["skipped"]) == 3

    (flags / "fail-01").unlink()
    failed = _backfill(server, "failed")
    assert _hours(failed["runs"]) == ["01"] and len(failed["skipped"]) == 2
    assert server.wait(failed["runs"][0]["id"])["status"] == "succeeded"

    everything = _backfill(server, "all")
    assert _hours(everything["runs"]) == ["00", "01", "02"] and everything["skipped"] == []
    assert [server.wait(r["id"])["status"] for r in everything["runs"]] == ["succeeded"] * 3
    listed = server.http.get(f"{API}/runs", params={"trigger": everything["trigger"]}).json()
    assert listed["total"] == 3


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"start": "2024-03-02T00:00:00Z", "end": "2024-03-01T00:00:00Z"}, "is not after"),
        ({"start": "2024-03-01", "end": "2024-03-02", "reprocess": "some"}, "reprocess"),
        ({"start": "2024-03-01"}, "end"),
        ({"start": "0001-01-01T00:00:00+14:00", "end": "2024-03-01T00:00:00Z"}, "start"),
        ({"start": "2024-01-01T00:00:00Z", "end": "2024-03-01T00:00:00Z"}, "more than 1,000 runs"),
    ],
    ids=["end-before-start", "reprocess", "no-end", "out-of-range", "too-many"],
)
def test_an_invalid_backfill_is_refused(
    server: Standalone, flags: Path, body: dict[str, Any], says: str
) -> None:
    assert _patch(server, paused=True).status_code == 200  # no scheduled run meanwhile
    try:
        before = server.count_runs(NAME)
        r = server.http.post(f"{API}/schedules/{NAME}/backfills", json=body)
        assert r.status_code in (400, 422), r.text
        assert says in r.json()["error"]
        assert server.count_runs(NAME) == before
    finally:
        _patch(server, paused=False)
