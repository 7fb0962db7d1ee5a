"""'headwater scheduler --once' creates the due runs of deployed schedules and runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from headwater.engine import Run, Workspace
from headwater.states import RunStatus

PIPELINE = """
from headwater import component, pipeline


@component
def stamp(day: str) -> str:
    return day


@pipeline(schedule="@hourly", start_date="{start}", catchup=True, max_active_runs=5)
def every_hour(hour: str = "{{{{ data_interval_start.strftime('%H') }}}}"):
    stamp(day=hour)
"""


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("headwater")), *args],
        cwd=tmp_path,
        env=dict(os.environ, HEADWATER_HOME=str(tmp_path / "home")),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_scheduler_once_runs_the_missed_hours(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    start = (datetime.now(UTC) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    (tmp_path / "hourly_pipeline.py").write_text(PIPELINE.format(start=start.isoformat()))
    assert cli(tmp_path, "deploy", "hourly_pipeline.py").returncode == 0

    paused = cli(tmp_path, "schedules", "pause", "every_hour")
    assert paused.returncode == 0
    assert cli(tmp_path, "scheduler", "--once").returncode == 0
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    ws = Workspace.open()
    assert ws.store.runs.list_runs() == []  # paused: nothing created

    assert cli(tmp_path, "schedules", "unpause", "every_hour").returncode == 0
    done = cli(tmp_path, "scheduler", "--once")
    assert done.returncode == 0, done.stdout + done.stderr
    runs = sorted(ws.store.runs.list_runs(), key=lambda r: r.data_interval_start)
    assert len(runs) == 3
    assert [r.data_interval_start for r in runs] == [start + timedelta(hours=i) for i in range(3)]
    assert all(r.trigger == "schedule" for r in runs)
    for run in runs:
        finished = Run(ws, run.id)
        assert finished.status is RunStatus.SUCCEEDED, finished.tasks
        assert finished.outputs("stamp")["output"] == f"{run.data_interval_start:%H}"

    listed = cli(tmp_path, "schedules", "list")
    assert listed.returncode == 0 and "every_hour" in listed.stdout and "@hourly" in listed.stdout
    unknown = cli(tmp_path, "schedules", "pause", "nobody")
    assert unknown.returncode == 1 and "pipeline 'nobody' has no schedule" in unknown.stderr


def test_schedules_set_refuses_a_bad_cron_and_keeps_the_old_settings(tmp_path: Path) -> None:
    start = (datetime.now(UTC) - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    (tmp_path / "settable_pipeline.py").write_text(PIPELINE.format(start=start.isoformat()))
    assert cli(tmp_path, "deploy", "settable_pipeline.py").returncode == 0
    bad = cli(tmp_path, "schedules", "set", "every_hour", "--cron", "* * *")
    assert bad.returncode == 1
    assert "invalid schedule '* * *'" in bad.stderr and "fix:" in bad.stderr
    good = cli(tmp_path, "schedules", "set", "every_hour", "--cron", "@daily", "--no-catchup")
    assert good.returncode == 0, good.stderr
    listed = cli(tmp_path, "schedules", "list")
    assert "@daily" in listed.stdout and "@hourly" not in listed.stdout
